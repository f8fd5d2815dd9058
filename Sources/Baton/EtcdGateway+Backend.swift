import BatonCore
import BatonEtcd

/// The etcd gateway already speaks the backend protocol's operations in Core's types.
extension EtcdGateway: Backend {}

import BatonCore
import BatonEtcd
import BatonTestSupport
import Testing

/// etcd's auth: a good password works (including watches), a wrong one or none is
/// `authenticationFailed`, and a token etcd no longer accepts is replaced once.
@Suite(.enabled(if: EtcdServer.isEnabled))
struct EtcdAuthTests {
    private func authEnabledEtcd() async throws -> EtcdServer {
        let etcd = try await EtcdServer.start()
        try etcd.etcdctl("user", "add", "root:pw")
        try etcd.etcdctl("auth", "enable")
        return etcd
    }

    @Test func theRightPasswordWorks() async throws {
        let etcd = try await authEnabledEtcd()
        defer { etcd.destroy() }
        let gateway = try EtcdGateway(configuration: etcd.configuration(username: "root", password: "pw"))
        defer { gateway.closeSoon() }
        let stream = try await gateway.watch(WatchRequest(.key("a")))
        _ = try await gateway.put(PutRequest(key: "a", value: Array("1".utf8)))
        #expect(try await gateway.range(RangeRequest(.key("a"))).kvs.first?.valueString == "1")
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next()?.events.first?.kv.valueString == "1")
        let lease = try await gateway.grantLease(ttl: 10, id: nil)
        #expect(try await gateway.keepAliveLease(lease.id) == 10)
    }

    @Test func aWrongPasswordOrNoneIsRejected() async throws {
        let etcd = try await authEnabledEtcd()
        defer { etcd.destroy() }
        let wrong = try EtcdGateway(configuration: etcd.configuration(username: "root", password: "nope"))
        defer { wrong.closeSoon() }
        await expectBatonError(.authenticationFailed) { _ = try await wrong.range(RangeRequest(.key("a"))) }
        await expectBatonError(.authenticationFailed) { _ = try await wrong.watch(WatchRequest(.key("a"))) }
        let stranger = try EtcdGateway(configuration: etcd.configuration(username: "nobody", password: "pw"))
        defer { stranger.closeSoon() }
        await expectBatonError(.authenticationFailed) { _ = try await stranger.put(PutRequest(key: "a")) }
        let anonymous = try etcd.gateway()
        defer { anonymous.closeSoon() }
        await expectBatonError(.authenticationFailed) { _ = try await anonymous.range(RangeRequest(.key("a"))) }
        await expectBatonError(.authenticationFailed) { _ = try await anonymous.watch(WatchRequest(.key("a"))) }
    }

    @Test func aRejectedTokenIsReplacedOnce() async throws {
        let etcd = try await authEnabledEtcd()
        defer { etcd.destroy() }
        let gateway = try EtcdGateway(configuration: etcd.configuration(username: "root", password: "pw"))
        defer { gateway.closeSoon() }
        _ = try await gateway.put(PutRequest(key: "a"))
        // Turning auth off and on again invalidates every token etcd handed out.
        try etcd.etcdctl("--user=root:pw", "auth", "disable")
        try etcd.etcdctl("auth", "enable")
        #expect(try await gateway.range(RangeRequest(.key("a"))).count == 1)
        try etcd.etcdctl("--user=root:pw", "auth", "disable")
        try etcd.etcdctl("auth", "enable")
        let stream = try await gateway.watch(WatchRequest(.key("a")))
        _ = try await gateway.put(PutRequest(key: "a", value: Array("2".utf8)))
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next()?.events.first?.kv.valueString == "2")
    }
}

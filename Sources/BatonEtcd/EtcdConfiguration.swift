import BatonCore

/// How to reach an etcd cluster through its v3 JSON gateway.
///
/// Built by hand or parsed from an `etcd:` connection string by `Baton`'s connection-string parser.
public struct EtcdConfiguration: Hashable, Sendable {
    /// Client URLs (`http://host:port`), tried in order; a request fails over to the next when one is
    /// unreachable.
    public var endpoints: [String]
    /// How long establishing a connection to one endpoint may take.
    public var dialTimeout: Duration
    /// How long one unary request may take end to end (etcd can hang a request forever, e.g. on a
    /// forged token).
    public var requestTimeout: Duration
    /// How long a watch stream may stay silent before its endpoint is asked whether it is alive
    /// (Go's `DialKeepAliveTime`); `nil` never asks. A stream to an endpoint that does not answer
    /// within ``keepAliveTimeout`` is closed and resumed on another: a frozen member, or a network
    /// that drops packets, would otherwise leave a waiter watching a stream that never speaks again.
    public var keepAliveTime: Duration?
    /// How long the endpoint of a silent watch has to answer (Go's `DialKeepAliveTimeout`).
    public var keepAliveTimeout: Duration
    /// Credentials for etcd's auth; the token goes in the `Authorization` header.
    public var username: String?
    /// The password of ``username``.
    public var password: String?

    /// Creates a configuration. The keep-alive defaults are `etcdctl`'s.
    public init(
        endpoints: [String], dialTimeout: Duration = .seconds(3), requestTimeout: Duration = .seconds(5),
        keepAliveTime: Duration? = .seconds(2), keepAliveTimeout: Duration = .seconds(6),
        username: String? = nil, password: String? = nil
    ) {
        self.endpoints = endpoints
        self.dialTimeout = dialTimeout
        self.requestTimeout = requestTimeout
        self.keepAliveTime = keepAliveTime
        self.keepAliveTimeout = keepAliveTimeout
        self.username = username
        self.password = password
    }
}

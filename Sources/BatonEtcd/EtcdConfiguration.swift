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
    /// Credentials for etcd's auth; the token goes in the `Authorization` header.
    public var username: String?
    /// The password of ``username``.
    public var password: String?

    /// Creates a configuration.
    public init(
        endpoints: [String], dialTimeout: Duration = .seconds(3), requestTimeout: Duration = .seconds(5),
        username: String? = nil, password: String? = nil
    ) {
        self.endpoints = endpoints
        self.dialTimeout = dialTimeout
        self.requestTimeout = requestTimeout
        self.username = username
        self.password = password
    }
}

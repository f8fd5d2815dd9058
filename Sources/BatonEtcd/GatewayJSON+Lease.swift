import BatonCore

// The lease and auth services' messages: `/v3/lease/grant`, `keepalive`, `timetolive`, `revoke`,
// `/v3/auth/authenticate`.

/// `etcdserverpb.LeaseGrantRequest`: `ID` 0 (left out) lets the server choose.
struct WireLeaseGrantRequest: Encodable, Sendable {
    var ttl: WireInt64
    var id: WireInt64?

    enum CodingKeys: String, CodingKey {
        case ttl = "TTL"
        case id = "ID"
    }
}

/// `etcdserverpb.LeaseGrantResponse`; `error` is a string field of the message itself.
struct WireLeaseGrantResponse: Decodable, Sendable {
    var header: WireHeader?
    var id: WireInt64?
    var ttl: WireInt64?
    var error: String?

    enum CodingKeys: String, CodingKey {
        case header, error
        case id = "ID"
        case ttl = "TTL"
    }
}

/// The request of keep-alive and revoke: just the lease ID.
struct WireLeaseIDRequest: Encodable, Sendable {
    var id: WireInt64

    enum CodingKeys: String, CodingKey {
        case id = "ID"
    }
}

/// `etcdserverpb.LeaseKeepAliveResponse`, the `result` of the keep-alive stream's one line.
/// A lease that is gone still answers, without `TTL`.
struct WireLeaseKeepAliveResponse: Decodable, Sendable {
    var header: WireHeader?
    var id: WireInt64?
    var ttl: WireInt64?

    enum CodingKeys: String, CodingKey {
        case header
        case id = "ID"
        case ttl = "TTL"
    }
}

/// `etcdserverpb.LeaseTimeToLiveRequest`.
struct WireLeaseTimeToLiveRequest: Encodable, Sendable {
    var id: WireInt64
    var keys: Bool?

    enum CodingKeys: String, CodingKey {
        case keys
        case id = "ID"
    }
}

/// `etcdserverpb.LeaseTimeToLiveResponse`; an unknown lease has `TTL` -1.
struct WireLeaseTimeToLiveResponse: Decodable, Sendable {
    var header: WireHeader?
    var id: WireInt64?
    var ttl: WireInt64?
    var grantedTTL: WireInt64?
    var keys: [WireBytes]?

    enum CodingKeys: String, CodingKey {
        case header, keys, grantedTTL
        case id = "ID"
        case ttl = "TTL"
    }
}

/// `etcdserverpb.AuthenticateRequest`.
struct WireAuthenticateRequest: Encodable, Sendable {
    var name: String
    var password: String
}

/// `etcdserverpb.AuthenticateResponse`.
struct WireAuthenticateResponse: Decodable, Sendable {
    var header: WireHeader?
    var token: String?
}

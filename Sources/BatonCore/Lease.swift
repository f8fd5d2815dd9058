/// The largest TTL etcd grants, in seconds.
public let maximumLeaseTTL: Int64 = 9_000_000_000

/// A granted lease.
public struct LeaseGrant: Hashable, Sendable {
    /// The lease's ID.
    public var id: LeaseID
    /// The granted TTL in seconds.
    public var ttl: Int64
    /// Creates a grant.
    public init(id: LeaseID, ttl: Int64) {
        self.id = id
        self.ttl = ttl
    }
}

/// A lease's remaining time and attached keys.
public struct LeaseTimeToLive: Hashable, Sendable {
    /// The lease's ID.
    public var id: LeaseID
    /// Whole seconds left before the lease expires, rounded up; 0 once it has expired.
    public var ttl: Int64
    /// The TTL it was granted with.
    public var grantedTTL: Int64
    /// Attached keys in key order (empty unless asked for).
    public var keys: [Key]
    /// Creates a time-to-live record.
    public init(id: LeaseID, ttl: Int64, grantedTTL: Int64, keys: [Key] = []) {
        self.id = id
        self.ttl = ttl
        self.grantedTTL = grantedTTL
        self.keys = keys
    }
}

import BatonCore

/// The oracle's own model of lease lifetimes, built from the grant, keep-alive and revoke requests the
/// server answered (not from the store's internals): a lease is alive from its grant until it is
/// revoked or its last renewal plus TTL has passed.
///
/// ``violations(in:now:)`` checks a response: no key of an expired or revoked lease may be visible.
public struct LeaseLedger: Sendable, Equatable {
    /// Expiry instants (global nanoseconds) of leases not yet revoked.
    private var expiry: [LeaseID: Int64] = [:]
    private var revoked: Set<LeaseID> = []

    /// Creates an empty ledger.
    public init() {}

    /// A lease was granted with `ttl` seconds at `now`.
    public mutating func granted(_ id: LeaseID, ttl: Int64, now: Int64) {
        expiry[id] = now &+ ttl &* 1_000_000_000
        revoked.remove(id)
    }

    /// A lease was renewed at `now` to live `ttl` more seconds.
    public mutating func renewed(_ id: LeaseID, ttl: Int64, now: Int64) {
        guard expiry[id] != nil else { return }
        expiry[id] = now &+ ttl &* 1_000_000_000
    }

    /// A lease was revoked.
    public mutating func revoked(_ id: LeaseID) {
        expiry[id] = nil
        revoked.insert(id)
    }

    /// Whether the lease is alive at `now`; `nil` if the ledger never saw it granted.
    public func isAlive(_ id: LeaseID, now: Int64) -> Bool? {
        if let end = expiry[id] { return end > now }
        return revoked.contains(id) ? false : nil
    }

    /// The keys in `kvs` whose lease is no longer alive at `now`.
    public func violations(in kvs: [KeyValue], now: Int64) -> [KeyValue] {
        kvs.filter { kv in
            guard let lease = kv.lease else { return false }
            return isAlive(lease, now: now) == false
        }
    }
}

/// The lease table: granted leases, their expiry instants and the keys attached to each.
///
/// Time is a `Duration` since an origin the caller chooses. A lease whose expiry is at or before `now`
/// is expired: it cannot be kept alive (`leaseNotFound`, as etcd answers a keep-alive that arrives
/// after expiry), reports 0 seconds to live, and stays in the table until the owner revokes it
/// (``StoreMachine/expireLeases(now:)``). A *pinned* lease never expires: its keeper (a session in
/// the store's own process) renews it continuously, until it unpins it. Leases are kept by ID and
/// ordered for expiry by (expiry, ID), each in a ``SortedMap``, so lookups and the next expiry are
/// O(log n). (A `Dictionary` of leases would hash; worse, changing a lease in place through its
/// subscript allocates the accessor's frame on every key attached or detached.)
struct LeaseTable: Equatable, Sendable {
    /// One granted lease.
    struct Lease: Equatable, Sendable {
        /// The TTL it was granted with, in seconds.
        var grantedTTL: Int64
        /// The instant it expires.
        var expiry: Duration
        /// The keys attached to it.
        var keys = KeySet()
        /// Whether it is pinned: kept alive continuously, out of the expiry order.
        var pinned = false
    }

    /// A lease's place in the expiry order.
    struct ExpiryPosition: Comparable, Hashable, Sendable {
        var expiry: Duration
        var id: LeaseID

        static func < (lhs: ExpiryPosition, rhs: ExpiryPosition) -> Bool {
            lhs.expiry != rhs.expiry ? lhs.expiry < rhs.expiry : lhs.id < rhs.id
        }
    }

    private var records = SortedMap<LeaseID, Lease>()
    private var expiryOrder = SortedMap<ExpiryPosition, Present>()
    /// The next ID the table tries when the caller lets it choose.
    private var nextID: Int64 = 1

    init() {}

    /// Whether the lease exists (granted and not yet revoked, expired or not).
    func contains(_ id: LeaseID) -> Bool { records.contains(id) }

    /// Every lease, in ID order.
    var ids: [LeaseID] { records.map(\.key) }

    /// The earliest expiry of any lease.
    var nextExpiry: Duration? { expiryOrder.first?.key.expiry }

    /// Grants a lease of `ttl` seconds expiring at `now + ttl`. With `id` nil (or 0, as etcd) the table
    /// chooses the lowest unused ID above every ID it chose before, starting at 1, so it never reuses one.
    /// - Throws: `invalidArgument` for a TTL outside 1...``maximumLeaseTTL``, `leaseExists`.
    mutating func grant(ttl: Int64, id: LeaseID?, now: Duration) throws -> LeaseGrant {
        guard (1...maximumLeaseTTL).contains(ttl) else {
            throw BatonError(.invalidArgument, "lease TTL \(ttl)s is outside 1...\(maximumLeaseTTL)")
        }
        let chosen: LeaseID
        if let id, id.rawValue != 0 {
            guard !records.contains(id) else { throw BatonError(.leaseExists, "lease \(id) already exists") }
            chosen = id
        } else {
            while records.contains(LeaseID(nextID)) { nextID += 1 }
            chosen = LeaseID(nextID)
            nextID += 1
        }
        let expiry = now + .seconds(ttl)
        records[chosen] = Lease(grantedTTL: ttl, expiry: expiry)
        expiryOrder[ExpiryPosition(expiry: expiry, id: chosen)] = Present()
        return LeaseGrant(id: chosen, ttl: ttl)
    }

    /// Renews a lease to expire at `now` plus its granted TTL and returns that TTL.
    /// - Throws: `leaseNotFound` when the lease does not exist or has expired.
    mutating func keepAlive(_ id: LeaseID, now: Duration) throws -> Int64 {
        guard let lease = records[id], lease.pinned || lease.expiry > now else {
            throw BatonError(.leaseNotFound, "lease \(id) does not exist or has expired")
        }
        guard !lease.pinned else { return lease.grantedTTL }
        let expiry = now + .seconds(lease.grantedTTL)
        expiryOrder.removeValue(forKey: ExpiryPosition(expiry: lease.expiry, id: id))
        expiryOrder[ExpiryPosition(expiry: expiry, id: id)] = Present()
        records.modifyValue(forKey: id) { $0.expiry = expiry }
        return lease.grantedTTL
    }

    /// Pins a live lease: it no longer expires, and reports its granted TTL to live, until
    /// ``unpin(_:since:)``. Pinning a pinned lease changes nothing.
    /// - Throws: `leaseNotFound` when the lease does not exist or has expired.
    mutating func pin(_ id: LeaseID, now: Duration) throws {
        guard let lease = records[id], lease.pinned || lease.expiry > now else {
            throw BatonError(.leaseNotFound, "lease \(id) does not exist or has expired")
        }
        guard !lease.pinned else { return }
        expiryOrder.removeValue(forKey: ExpiryPosition(expiry: lease.expiry, id: id))
        records.modifyValue(forKey: id) { $0.pinned = true }
    }

    /// Unpins a lease: it expires its granted TTL after `since`, as if last renewed then. Does nothing
    /// to a lease that is gone or not pinned.
    mutating func unpin(_ id: LeaseID, since: Duration) {
        guard let lease = records[id], lease.pinned else { return }
        let expiry = since + .seconds(lease.grantedTTL)
        expiryOrder[ExpiryPosition(expiry: expiry, id: id)] = Present()
        records.modifyValue(forKey: id) {
            $0.pinned = false
            $0.expiry = expiry
        }
    }

    /// Removes a lease and returns its attached keys in key order.
    /// - Throws: `leaseNotFound`.
    mutating func remove(_ id: LeaseID) throws -> [Key] {
        guard let lease = records.removeValue(forKey: id) else {
            throw BatonError(.leaseNotFound, "lease \(id) does not exist")
        }
        if !lease.pinned { expiryOrder.removeValue(forKey: ExpiryPosition(expiry: lease.expiry, id: id)) }
        return lease.keys.sorted()
    }

    /// The keys attached to a lease, in key order (empty for an unknown lease).
    func keys(of id: LeaseID) -> [Key] { records[id]?.keys.sorted() ?? [] }

    /// A lease's remaining whole seconds (rounded up, never negative) and, when asked, its keys.
    /// - Throws: `leaseNotFound`.
    func timeToLive(_ id: LeaseID, keys: Bool, now: Duration) throws -> LeaseTimeToLive {
        guard let lease = records[id] else {
            throw BatonError(.leaseNotFound, "lease \(id) does not exist")
        }
        return LeaseTimeToLive(
            id: id, ttl: lease.pinned ? lease.grantedTTL : Self.wholeSecondsRoundedUp(lease.expiry - now),
            grantedTTL: lease.grantedTTL,
            keys: keys ? lease.keys.sorted() : [])
    }

    /// The leases expired at `now` (expiry at or before it), in (expiry, ID) order.
    func expired(at now: Duration) -> [LeaseID] {
        var result: [LeaseID] = []
        for (position, _) in expiryOrder {
            guard position.expiry <= now else { break }
            result.append(position.id)
        }
        return result
    }

    /// Attaches `key` to lease `id`, if the lease exists.
    mutating func attach(_ key: Key, to id: LeaseID) {
        records.modifyValue(forKey: id) { _ = $0.keys.insert(key) }
    }

    /// Detaches `key` from lease `id`, if the lease exists.
    mutating func detach(_ key: Key, from id: LeaseID) {
        records.modifyValue(forKey: id) { _ = $0.keys.remove(key) }
    }

    /// `duration` in whole seconds, rounded up; 0 for a duration at or below zero.
    static func wholeSecondsRoundedUp(_ duration: Duration) -> Int64 {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        return attoseconds > 0 ? seconds + 1 : seconds
    }
}

/// Identifies one watch registered with a ``StoreMachine``.
public struct WatchID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public static func < (lhs: WatchID, rhs: WatchID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "w\(rawValue)" }
}

/// A batch of events owed to one watch, produced by a write.
public struct WatchDelivery: Hashable, Sendable {
    public var watch: WatchID
    public var response: WatchResponse
    public init(watch: WatchID, response: WatchResponse) {
        self.watch = watch
        self.response = response
    }
}

/// The whole etcd model as one pure value: MVCC keyspace, lease table and watch registry.
///
/// No clock, no randomness, no concurrency: time comes in as `now` (a duration since an origin the
/// caller chooses) and every output is a value. Writes queue ``WatchDelivery`` values that the owner
/// collects with ``takeDeliveries()`` after each mutating call.
///
/// Revisions follow etcd: a new store is at revision 1; every write transaction that changes something
/// advances it by exactly one; reads, failed compares without writes and deletes of nothing do not.
public struct StoreMachine: Sendable, Equatable {
    public init() { fatalError("StoreMachine: implemented by the Core work") }

    /// The current store revision.
    public var revision: Int64 { fatalError() }
    /// The highest compacted revision (0 when nothing was compacted).
    public var compactedRevision: Int64 { fatalError() }

    /// Reads keys. - Throws: `compacted` / `futureRevision` for a bad `revision`.
    public func range(_ request: RangeRequest) throws -> RangeResponse { fatalError() }
    /// Writes one key. - Throws: `leaseNotFound` when the lease does not exist.
    public mutating func put(_ request: PutRequest) throws -> PutResponse { fatalError() }
    /// Deletes keys.
    public mutating func deleteRange(_ request: DeleteRangeRequest) throws -> DeleteRangeResponse { fatalError() }
    /// Runs a transaction. - Throws: `duplicateKey`, `leaseNotFound`, range errors; nothing is applied then.
    public mutating func txn(_ request: TxnRequest) throws -> TxnResponse { fatalError() }
    /// Forgets history at and below `revision`. - Throws: `compacted` (already), `futureRevision`.
    public mutating func compact(revision: Int64) throws { fatalError() }

    /// Grants a lease of `ttl` seconds expiring at `now + ttl`; `id` nil lets the store choose.
    /// - Throws: `invalidArgument` for ttl outside 1...``maximumLeaseTTL``, `leaseExists`.
    public mutating func grantLease(ttl: Int64, id: LeaseID?, now: Duration) throws -> LeaseGrant { fatalError() }
    /// Renews a lease to expire at `now + grantedTTL`; returns the TTL. - Throws: `leaseNotFound`.
    public mutating func keepAliveLease(_ id: LeaseID, now: Duration) throws -> Int64 { fatalError() }
    /// Revokes a lease, deleting every attached key in one revision; returns the store revision.
    /// - Throws: `leaseNotFound`.
    public mutating func revokeLease(_ id: LeaseID) throws -> Int64 { fatalError() }
    /// A lease's remaining whole seconds and, when asked, its keys. - Throws: `leaseNotFound`.
    public func leaseTimeToLive(_ id: LeaseID, keys: Bool, now: Duration) throws -> LeaseTimeToLive { fatalError() }
    /// Every live lease, in ID order.
    public var leases: [LeaseID] { fatalError() }
    /// The earliest instant at which some lease expires, if any lease exists.
    public var nextLeaseExpiry: Duration? { fatalError() }
    /// Revokes every lease whose expiry is at or before `now` (each in its own revision, in expiry
    /// then ID order) and returns their IDs.
    public mutating func expireLeases(now: Duration) -> [LeaseID] { fatalError() }

    /// Registers a watch and returns its ID with the catch-up batches owed from `startRevision`
    /// (one per revision, in order). - Throws: `compacted` when `startRevision` is compacted.
    public mutating func watch(_ request: WatchRequest) throws -> (WatchID, [WatchResponse]) { fatalError() }
    /// Removes a watch; later writes owe it nothing.
    public mutating func cancelWatch(_ id: WatchID) { fatalError() }
    /// The deliveries queued by writes since the last call, by revision then watch ID.
    public mutating func takeDeliveries() -> [WatchDelivery] { fatalError() }
}

/// Identifies one watch registered with a ``StoreMachine``.
///
/// A ``StoreMachine`` numbers watches from 1 in registration order and never reuses an ID.
public struct WatchID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The ID's number.
    public var rawValue: Int64
    /// Creates a watch ID.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public static func < (lhs: WatchID, rhs: WatchID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "w\(rawValue)" }
}

/// A batch of events owed to one watch, produced by a write.
///
/// A write owes each matching watch one delivery holding every event of its revision that the watch
/// matches, in the order the write made them.
public struct WatchDelivery: Hashable, Sendable {
    /// The watch the events are for.
    public var watch: WatchID
    /// The events of one revision, with that revision.
    public var response: WatchResponse
    /// Creates a delivery.
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
///
/// A key put with a lease is attached to it; a put with another lease (or none) moves it, and deleting
/// the key detaches it. Revoking or expiring a lease deletes all its keys in one revision.
///
/// History is kept for every revision until ``compact(revision:)``; an owner that never compacts keeps
/// every change in memory.
public struct StoreMachine: Sendable, Equatable {
    private(set) var keyspace = Keyspace()  // internal for tests that count the keys a read examines
    private var leaseTable = LeaseTable()
    private var watches = WatchRegistry()

    /// Creates an empty store at revision 1, with no leases and no watches.
    public init() {}

    /// The current store revision.
    public var revision: Int64 { keyspace.revision }
    /// The highest compacted revision (0 when nothing was compacted).
    public var compactedRevision: Int64 { keyspace.compactedRevision }

    /// Reads keys at the current revision or, with `request.revision > 0`, at a past one.
    ///
    /// The response's `revision` is the current store revision, also for a read in the past (as etcd's
    /// header). With `sortOrder` `.none` results are in key order whatever the `sortTarget`; otherwise
    /// sorted by the target with ties in key order, `.descend` being the exact reverse of `.ascend`.
    /// A prefix ending in `/` sorted by create revision is served from an index in O(log n + limit).
    /// - Throws: `futureRevision` above the current revision; `compacted` below ``compactedRevision``
    ///   (reading at the compacted revision itself works, as in etcd); `invalidArgument` for keys over
    ///   ``maximumRequestBytes``.
    public func range(_ request: RangeRequest) throws -> RangeResponse {
        try checkRequestSize(request.range.requestBytes, "a range")
        return try keyspace.range(request)
    }

    /// Writes one key in a new revision, attaching it to `request.lease` (`nil` or lease 0: no lease).
    /// - Throws: `leaseNotFound` when the lease does not exist; `invalidArgument` for a key and value
    ///   over ``maximumRequestBytes``.
    public mutating func put(_ request: PutRequest) throws -> PutResponse {
        try checkRequestSize(request.requestBytes, "a put")
        if let lease = Keyspace.attachedLease(request.lease), !leaseTable.contains(lease) {
            throw BatonError(.leaseNotFound, "lease \(lease) does not exist (put of \(request.key))")
        }
        let (response, changeSet) = keyspace.put(request)
        committed(changeSet)
        return response
    }

    /// Deletes the keys in a range, in one revision; the revision does not move when nothing matched.
    /// - Throws: `invalidArgument` for keys over ``maximumRequestBytes``.
    public mutating func deleteRange(_ request: DeleteRangeRequest) throws -> DeleteRangeResponse {
        try checkRequestSize(request.range.requestBytes, "a delete")
        let (response, changeSet) = keyspace.deleteRange(request)
        if let changeSet { committed(changeSet) }
        return response
    }

    /// Runs a transaction: if every compare holds, `success`, else `failure`; all its writes share one
    /// revision and later reads in the branch see earlier writes.
    ///
    /// As in etcd, every compare on the path taken (nested transactions included) is evaluated against
    /// the store as it was before the transaction, and a value compare on a missing key never holds.
    /// The response's `revision` is the store revision afterwards; inside it, each operation reports
    /// the revision visible when it ran (the new one once the transaction has written something).
    /// - Throws: `duplicateKey` when the request writes a key twice (etcd's rule, checked on the request
    ///   alone, both branches of nested transactions included), `leaseNotFound` for a put on the path
    ///   taken naming a missing lease, `futureRevision` / `compacted` for such a read, `invalidArgument`
    ///   for keys and values over ``maximumRequestBytes`` in all; nothing is applied then.
    public mutating func txn(_ request: TxnRequest) throws -> TxnResponse {
        try checkRequestSize(request.requestBytes, "a transaction")
        let plan = try keyspace.plan(request, leases: leaseTable)
        let (response, changeSet) = keyspace.run(request, plan)
        if let changeSet { committed(changeSet) }
        return response
    }

    /// Forgets history at and below `revision`: reads below it and watches starting at or below it fail
    /// with `compacted`. - Throws: `compacted` (already), `futureRevision`.
    public mutating func compact(revision: Int64) throws {
        try keyspace.compact(revision: revision)
    }

    /// Grants a lease of `ttl` seconds expiring at `now + ttl`; `id` nil (or 0) lets the store choose:
    /// IDs counting up from 1, skipping taken ones, never reused.
    /// - Throws: `invalidArgument` for ttl outside 1...``maximumLeaseTTL``, `leaseExists`.
    public mutating func grantLease(ttl: Int64, id: LeaseID?, now: Duration) throws -> LeaseGrant {
        try leaseTable.grant(ttl: ttl, id: id, now: now)
    }

    /// Renews a lease to expire at `now + grantedTTL`; returns the TTL.
    /// - Throws: `leaseNotFound` when the lease does not exist or has expired (expiry at or before `now`),
    ///   even if ``expireLeases(now:)`` has not revoked it yet.
    public mutating func keepAliveLease(_ id: LeaseID, now: Duration) throws -> Int64 {
        try leaseTable.keepAlive(id, now: now)
    }

    /// Pins a live lease: it stops expiring (its keeper renews it continuously) until
    /// ``unpinLease(_:since:)``. - Throws: `leaseNotFound` when it does not exist or has expired.
    public mutating func pinLease(_ id: LeaseID, now: Duration) throws {
        try leaseTable.pin(id, now: now)
    }

    /// Unpins a lease: it expires its TTL after `since`, as if last renewed then. Does nothing to a
    /// lease that is gone or not pinned.
    public mutating func unpinLease(_ id: LeaseID, since: Duration) {
        leaseTable.unpin(id, since: since)
    }

    /// Revokes a lease, deleting every attached key in one revision; returns the store revision
    /// (unchanged when the lease had no keys). - Throws: `leaseNotFound`.
    public mutating func revokeLease(_ id: LeaseID) throws -> Int64 {
        let keys = try leaseTable.remove(id)
        if let changeSet = keyspace.delete(keys: keys) { committed(changeSet) }
        return revision
    }

    /// A lease's remaining whole seconds (rounded up; 0 once expired) and, when asked, its keys in key
    /// order. - Throws: `leaseNotFound`.
    public func leaseTimeToLive(_ id: LeaseID, keys: Bool, now: Duration) throws -> LeaseTimeToLive {
        try leaseTable.timeToLive(id, keys: keys, now: now)
    }

    /// Every live lease, in ID order.
    public var leases: [LeaseID] { leaseTable.ids }

    /// The earliest instant at which some lease expires, if any lease exists.
    public var nextLeaseExpiry: Duration? { leaseTable.nextExpiry }

    /// Revokes every lease whose expiry is at or before `now` (each in its own revision, in expiry
    /// then ID order) and returns their IDs.
    public mutating func expireLeases(now: Duration) -> [LeaseID] {
        let expired = leaseTable.expired(at: now)
        for id in expired {
            _ = try? revokeLease(id)  // listed by the table just now, so it exists
        }
        return expired
    }

    /// Registers a watch and returns its ID with the catch-up batches owed from `startRevision`
    /// (one per revision that changed a watched key, in order, each carrying that revision).
    ///
    /// `startRevision` nil (or at most 0) means from the next write. Writes after this call queue
    /// deliveries for the watch (see ``takeDeliveries()``), never repeating a catch-up revision.
    /// - Throws: `compacted` when `startRevision` is at or below ``compactedRevision``.
    public mutating func watch(_ request: WatchRequest) throws -> (WatchID, [WatchResponse]) {
        guard let start = request.startRevision, start > 0 else {
            return (watches.register(request, startRevision: revision + 1), [])
        }
        if start <= compactedRevision {
            throw BatonError(.compacted, "watch from revision \(start): compacted at \(compactedRevision)")
        }
        let catchUp = WatchRegistry.catchUp(request, from: keyspace.changeSets(from: start))
        let id = watches.register(request, startRevision: max(start, revision + 1))
        return (id, catchUp)
    }

    /// Removes a watch and drops its undelivered batches; later writes owe it nothing. Unknown IDs are
    /// ignored.
    public mutating func cancelWatch(_ id: WatchID) {
        watches.cancel(id)
    }

    /// The deliveries queued by writes since the last call, by revision then watch ID.
    public mutating func takeDeliveries() -> [WatchDelivery] {
        watches.takeDeliveries()
    }

    /// What an owner does after every change, in one call: takes the queued deliveries, compacts the
    /// history down to the last `retention` revisions once it has grown to twice that, and reports the
    /// earliest lease expiry.
    ///
    /// One mutating call rather than several property reads: an owner that keeps the machine in a
    /// class or an actor would copy the whole value (retaining every part of it) for each read.
    public mutating func settle(retainingHistory retention: Int64) -> (
        deliveries: [WatchDelivery], nextLeaseExpiry: Duration?
    ) {
        let deliveries = watches.takeDeliveries()
        if revision - compactedRevision > 2 * retention {
            try? compact(revision: revision - retention)  // above the compacted revision, below the current
        }
        return (deliveries, leaseTable.nextExpiry)
    }

    /// Keeps lease attachments in step with a committed write and queues its watch deliveries.
    private mutating func committed(_ changeSet: ChangeSet) {
        for change in changeSet.changes where change.previous?.lease != change.current?.lease {
            if let old = change.previous?.lease { leaseTable.detach(change.key, from: old) }
            if let new = change.current?.lease { leaseTable.attach(change.key, to: new) }
        }
        watches.notify(changeSet)
    }
}

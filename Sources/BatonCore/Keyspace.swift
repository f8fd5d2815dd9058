/// The MVCC keyspace: live keys, their history by revision, and a create-revision index per directory.
///
/// Revisions follow etcd: a new keyspace is at revision 1 and every write transaction that changes
/// something advances the revision by exactly one; all its changes share that revision. The history
/// keeps one ``ChangeSet`` per revision above ``compactedRevision``; each change carries the key's
/// previous value, so a read at a past revision undoes the newer changes over the live keys.
///
/// Every `/`-terminated prefix of a live key (for `a/b/c`: `a/` and `a/b/`; for `a/b/`: also `a/b/`
/// itself) is a directory, and one create index orders every live key under each of its directories
/// by directory, then create revision: a directory's keys are one run of it, so the lock-owner query
/// ("first created under the prefix") and the predecessor query ("last created before revision R")
/// are O(log n) seeks rather than scans. See `Keyspace+Range.swift`. One tree for all directories, not
/// one per directory: a lock name is a directory of its own, and a tree of its own cost every held
/// lock three small arrays.
struct Keyspace: Equatable, Sendable {
    /// A key's place in the create index under one of its directories: the key's first
    /// `directoryLength` bytes, compared as a prefix of the key and never built.
    struct CreatePosition: Comparable, Hashable, Sendable {
        var directoryLength: Int
        var createRevision: Int64
        var key: Key

        /// How this position's directory orders against `directory`: negative before, zero the same,
        /// positive after.
        func order(ofDirectoryAgainst directory: Key) -> Int {
            key.order(ofPrefix: directoryLength, comparedWith: directory)
        }

        static func < (lhs: CreatePosition, rhs: CreatePosition) -> Bool {
            let byDirectory = lhs.key.order(
                ofPrefix: lhs.directoryLength, comparedWith: rhs.key, prefix: rhs.directoryLength)
            if byDirectory != 0 { return byDirectory < 0 }
            if lhs.createRevision != rhs.createRevision { return lhs.createRevision < rhs.createRevision }
            return lhs.key < rhs.key
        }
    }

    /// The changes of a write transaction that has not committed yet.
    struct PendingWrite {
        /// The revision the transaction will commit at (the current revision plus one).
        let revision: Int64
        /// Changes so far, in operation order.
        var changes: [Change] = []

        /// The store revision a read or write inside the transaction reports: the new revision once
        /// the transaction has changed something, the current one before.
        var visibleRevision: Int64 { changes.isEmpty ? revision - 1 : revision }
    }

    /// The current revision.
    private(set) var revision: Int64 = 1
    /// The highest compacted revision (0 when nothing was compacted).
    private(set) var compactedRevision: Int64 = 0
    /// Live keys in key order.
    private(set) var live = SortedMap<Key, KeyValue>()
    /// Every live key under each of its directories, by directory, then create revision.
    private(set) var createIndex = SortedMap<CreatePosition, Present>()
    /// One change set per revision above ``compactedRevision`` (revision 1 has none), oldest first.
    private(set) var history: [ChangeSet] = []

    init() {}

    /// The live key-value of `key`, if it exists.
    subscript(key: Key) -> KeyValue? { live[key] }

    // MARK: - Writes

    /// Writes one key in its own revision.
    mutating func put(_ request: PutRequest) -> (PutResponse, ChangeSet) {
        var write = PendingWrite(revision: revision + 1)
        let response = apply(request, in: &write)
        let changeSet = commit(write)!  // a put always changes its key
        return (response, changeSet)
    }

    /// Deletes a range of keys in one revision; no revision when nothing matched.
    mutating func deleteRange(_ request: DeleteRangeRequest) -> (DeleteRangeResponse, ChangeSet?) {
        var write = PendingWrite(revision: revision + 1)
        var response = apply(request, in: &write)
        let changeSet = commit(write)
        response.revision = revision
        return (response, changeSet)
    }

    /// Deletes the given keys (those that exist) in one revision, in the order given; no revision when
    /// none exists. This is how a lease revoke removes its keys.
    mutating func delete(keys: [Key]) -> ChangeSet? {
        var write = PendingWrite(revision: revision + 1)
        for key in keys {
            _ = apply(DeleteRangeRequest(.key(key)), in: &write)
        }
        return commit(write)
    }

    /// Forgets the history at and below `target`; reads at `target` itself still work, as in etcd.
    /// - Throws: `compacted` when `target` is already compacted, `futureRevision` above the current.
    mutating func compact(revision target: Int64) throws {
        if target <= compactedRevision {
            throw BatonError(.compacted, "revision \(target) is already compacted (at \(compactedRevision))")
        }
        if target > revision {
            throw BatonError(.futureRevision, "revision \(target) is past the current revision \(revision)")
        }
        history.removeFirst(historyIndex(after: target))
        compactedRevision = target
    }

    /// The change sets of revisions `>= start`, oldest first. The caller checks `start` against
    /// ``compactedRevision``.
    func changeSets(from start: Int64) -> ArraySlice<ChangeSet> {
        history[historyIndex(after: start - 1)...]
    }

    /// The index in ``history`` of the first change set above `target`.
    func historyIndex(after target: Int64) -> Int {
        var low = 0
        var high = history.count
        while low < high {
            let middle = (low + high) / 2
            if history[middle].revision <= target { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Puts one key as part of `write`.
    mutating func apply(_ request: PutRequest, in write: inout PendingWrite) -> PutResponse {
        var kv = KeyValue(key: request.key)
        let previous = live.updateValue(forKey: request.key) { previous in
            kv = KeyValue(
                key: request.key, value: request.value,
                createRevision: previous?.createRevision ?? write.revision, modRevision: write.revision,
                version: (previous?.version ?? 0) + 1, lease: Self.attachedLease(request.lease))
            return kv
        }
        if previous == nil { addToCreateIndex(kv) }
        write.changes.append(Change(key: request.key, previous: previous, current: kv))
        return PutResponse(revision: write.revision, prevKV: request.prevKV ? previous : nil)
    }

    /// Deletes the live keys in a range, in key order, as part of `write`.
    mutating func apply(_ request: DeleteRangeRequest, in write: inout PendingWrite) -> DeleteRangeResponse {
        if case .key(let key) = request.range {
            // One key (the common delete): remove it in one step rather than collect it first.
            guard let kv = live.removeValue(forKey: key) else {
                return DeleteRangeResponse(revision: write.visibleRevision, deleted: 0)
            }
            deleted(kv, in: &write)
            return DeleteRangeResponse(revision: write.visibleRevision, deleted: 1, prevKVs: request.prevKV ? [kv] : [])
        }
        let doomed = liveKeyValues(in: request.range)
        for kv in doomed {
            live.removeValue(forKey: kv.key)
            deleted(kv, in: &write)
        }
        return DeleteRangeResponse(
            revision: write.visibleRevision, deleted: doomed.count, prevKVs: request.prevKV ? doomed : [])
    }

    /// Records the deletion of `kv`, just removed from the live keys, in the create index and `write`.
    private mutating func deleted(_ kv: KeyValue, in write: inout PendingWrite) {
        removeFromCreateIndex(kv)
        write.changes.append(Change(key: kv.key, previous: kv, current: nil))
    }

    /// Commits `write`: advances the revision and records its change set, unless it changed nothing.
    mutating func commit(_ write: PendingWrite) -> ChangeSet? {
        guard !write.changes.isEmpty else { return nil }
        precondition(write.revision == revision + 1, "a pending write commits at the next revision")
        revision = write.revision
        let changeSet = ChangeSet(revision: revision, changes: write.changes)
        history.append(changeSet)
        return changeSet
    }

    /// The lease a put attaches: etcd's lease 0 means "no lease".
    static func attachedLease(_ lease: LeaseID?) -> LeaseID? {
        lease?.rawValue == 0 ? nil : lease
    }

    // MARK: - Live keys and the create index

    /// The live key-values in `range`, in key order.
    func liveKeyValues(in range: KeyRange) -> [KeyValue] {
        if case .key(let key) = range {
            return live[key].map { [$0] } ?? []
        }
        let upper = range.upperBound
        var result: [KeyValue] = []
        for (key, kv) in live.ascending(from: range.lowerBound) {
            if let upper, !(key < upper) { break }
            result.append(kv)
        }
        return result
    }

    /// The `/`-terminated prefixes of `key`, shortest first (including `key` itself when it ends in `/`).
    static func directories(of key: Key) -> [Key] {
        var result: [Key] = []
        forEachDirectory(of: key) { length in result.append(Key(bytes: Array(key.bytes[..<length]))) }
        return result
    }

    /// Calls `body` with the length of each of ``directories(of:)``: the directory is the key's first
    /// `length` bytes. Neither the directories nor an array of them are built.
    static func forEachDirectory(of key: Key, _ body: (_ length: Int) -> Void) {
        for (offset, byte) in key.bytes.enumerated() where byte == UInt8(ascii: "/") {
            body(offset + 1)
        }
    }

    private mutating func addToCreateIndex(_ kv: KeyValue) {
        Self.forEachDirectory(of: kv.key) { length in
            createIndex[CreatePosition(directoryLength: length, createRevision: kv.createRevision, key: kv.key)] =
                Present()
        }
    }

    /// Removes `kv` from the create index under each of its directories.
    private mutating func removeFromCreateIndex(_ kv: KeyValue) {
        Self.forEachDirectory(of: kv.key) { length in
            createIndex.removeValue(
                forKey: CreatePosition(directoryLength: length, createRevision: kv.createRevision, key: kv.key))
        }
    }
}

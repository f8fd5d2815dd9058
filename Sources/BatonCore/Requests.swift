/// How a range orders its results.
public enum SortOrder: Hashable, Sendable { case none, ascend, descend }

/// What a range sorts by.
public enum SortTarget: Hashable, Sendable { case key, version, create, mod, value }

/// A read of one key or a range of keys, as etcd's `RangeRequest`.
public struct RangeRequest: Hashable, Sendable {
    /// The keys to read.
    public var range: KeyRange
    /// At most this many results; 0 means no limit.
    public var limit: Int
    /// Read at this past revision; 0 means the current one.
    public var revision: Int64
    /// Result order (`none` means key order, as etcd).
    public var sortOrder: SortOrder
    /// What to sort by.
    public var sortTarget: SortTarget
    /// Return keys without values.
    public var keysOnly: Bool
    /// Return only the count.
    public var countOnly: Bool
    /// Only keys whose create revision is at most this (0: no bound). Filters `kvs`, not `count`.
    public var maxCreateRevision: Int64
    /// Only keys whose create revision is at least this (0: no bound). Filters `kvs`, not `count`.
    public var minCreateRevision: Int64
    /// Let the member that receives the read answer from its own store, without etcd's linearizable
    /// round (`serializable`): cheaper, but a lagging member may answer as of an older revision, so
    /// check the response's revision. Stores whose reads are always current ignore it.
    public var serializable: Bool

    /// Creates a range request; every option defaults to etcd's zero value.
    public init(
        _ range: KeyRange, limit: Int = 0, revision: Int64 = 0, sortOrder: SortOrder = .none,
        sortTarget: SortTarget = .key, keysOnly: Bool = false, countOnly: Bool = false,
        maxCreateRevision: Int64 = 0, minCreateRevision: Int64 = 0, serializable: Bool = false
    ) {
        self.range = range
        self.limit = limit
        self.revision = revision
        self.sortOrder = sortOrder
        self.sortTarget = sortTarget
        self.keysOnly = keysOnly
        self.countOnly = countOnly
        self.maxCreateRevision = maxCreateRevision
        self.minCreateRevision = minCreateRevision
        self.serializable = serializable
    }
}

/// The result of a range.
public struct RangeResponse: Hashable, Sendable {
    /// The store's current revision (the header revision), also for a read at a past revision, as etcd.
    public var revision: Int64
    /// The matching keys, after sorting, filtering and limit.
    public var kvs: [KeyValue]
    /// Whether more keys matched than `limit` allowed.
    public var more: Bool
    /// How many keys are in the range (before `limit` and the create-revision filters, as etcd).
    public var count: Int

    /// Creates a range result.
    public init(revision: Int64, kvs: [KeyValue], more: Bool, count: Int) {
        self.revision = revision
        self.kvs = kvs
        self.more = more
        self.count = count
    }
}

/// A write of one key.
public struct PutRequest: Hashable, Sendable {
    /// The key to write.
    public var key: Key
    /// The new value.
    public var value: [UInt8]
    /// Attach the key to this lease (which must exist); `nil` (or lease 0, as etcd) detaches it.
    public var lease: LeaseID?
    /// Return the key's previous value.
    public var prevKV: Bool

    /// Creates a put.
    public init(key: Key, value: [UInt8] = [], lease: LeaseID? = nil, prevKV: Bool = false) {
        self.key = key
        self.value = value
        self.lease = lease
        self.prevKV = prevKV
    }
}

/// The result of a put.
public struct PutResponse: Hashable, Sendable {
    /// The revision of the write.
    public var revision: Int64
    /// The previous value, when asked for and present.
    public var prevKV: KeyValue?

    /// Creates a put result.
    public init(revision: Int64, prevKV: KeyValue? = nil) {
        self.revision = revision
        self.prevKV = prevKV
    }
}

/// A delete of one key or a range of keys.
public struct DeleteRangeRequest: Hashable, Sendable {
    /// The keys to delete.
    public var range: KeyRange
    /// Return the deleted keys' values.
    public var prevKV: Bool

    /// Creates a delete.
    public init(_ range: KeyRange, prevKV: Bool = false) {
        self.range = range
        self.prevKV = prevKV
    }
}

/// The result of a delete.
public struct DeleteRangeResponse: Hashable, Sendable {
    /// The store revision after the delete (unchanged when nothing was deleted).
    public var revision: Int64
    /// How many keys were deleted.
    public var deleted: Int
    /// The deleted keys in key order, when asked for.
    public var prevKVs: [KeyValue]

    /// Creates a delete result.
    public init(revision: Int64, deleted: Int, prevKVs: [KeyValue] = []) {
        self.revision = revision
        self.deleted = deleted
        self.prevKVs = prevKVs
    }
}

/// A watch on a key or a range, as etcd's `WatchCreateRequest`.
public struct WatchRequest: Hashable, Sendable {
    /// The keys watched.
    public var range: KeyRange
    /// Deliver events from this revision on; `nil` (or 0) means "from the next write".
    public var startRevision: Int64?
    /// Include each key's previous value in events.
    public var prevKV: Bool

    /// Creates a watch request.
    public init(_ range: KeyRange, startRevision: Int64? = nil, prevKV: Bool = false) {
        self.range = range
        self.startRevision = startRevision
        self.prevKV = prevKV
    }
}

/// One change to one key.
public struct WatchEvent: Hashable, Sendable, CustomStringConvertible {
    /// The kind of change: a put or a delete.
    public enum Kind: Hashable, Sendable { case put, delete }
    /// Whether the key was written or deleted.
    public var kind: Kind
    /// For a put: the new key-value. For a delete: the key with the delete's revision as its mod
    /// revision, and an empty value, create revision 0 and version 0 (etcd's tombstone).
    public var kv: KeyValue
    /// The key before the change, when the watch asked for it and the key existed.
    public var prevKV: KeyValue?

    /// Creates an event.
    public init(kind: Kind, kv: KeyValue, prevKV: KeyValue? = nil) {
        self.kind = kind
        self.kv = kv
        self.prevKV = prevKV
    }

    public var description: String { "\(kind == .put ? "PUT" : "DELETE") \(kv)" }
}

/// A batch of events delivered to one watch: every event of one or more revisions, in order.
public struct WatchResponse: Hashable, Sendable {
    /// The store revision as of the batch. ``StoreMachine`` sets it to the revision of the batch's
    /// events, for catch-up batches too; etcd may report a later current revision, so track progress
    /// by the events' `modRevision`.
    public var revision: Int64
    /// The events, in revision order and, within a revision, in the order the write made them.
    public var events: [WatchEvent]
    /// Creates a batch.
    public init(revision: Int64, events: [WatchEvent]) {
        self.revision = revision
        self.events = events
    }
}

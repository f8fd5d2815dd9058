/// A watch on a key or a range, as etcd's `WatchCreateRequest`.
public struct WatchRequest: Hashable, Sendable {
    public var range: KeyRange
    /// Deliver events from this revision on; `nil` means "from the next write".
    public var startRevision: Int64?
    /// Include each key's previous value in events.
    public var prevKV: Bool

    public init(_ range: KeyRange, startRevision: Int64? = nil, prevKV: Bool = false) {
        self.range = range
        self.startRevision = startRevision
        self.prevKV = prevKV
    }
}

/// One change to one key.
public struct WatchEvent: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable { case put, delete }
    public var kind: Kind
    /// For a put: the new key-value. For a delete: the key with the delete's mod revision.
    public var kv: KeyValue
    /// The key before the change, when the watch asked for it and the key existed.
    public var prevKV: KeyValue?

    public init(kind: Kind, kv: KeyValue, prevKV: KeyValue? = nil) {
        self.kind = kind
        self.kv = kv
        self.prevKV = prevKV
    }

    public var description: String { "\(kind == .put ? "PUT" : "DELETE") \(kv)" }
}

/// A batch of events delivered to one watch: every event of one or more revisions, in order.
public struct WatchResponse: Hashable, Sendable {
    /// The store revision when the batch was sent.
    public var revision: Int64
    public var events: [WatchEvent]
    public init(revision: Int64, events: [WatchEvent]) {
        self.revision = revision
        self.events = events
    }
}

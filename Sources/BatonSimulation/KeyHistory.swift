import BatonCore

/// The server's keyspace history as a watch on every key reports it, reduced to what the lock and
/// election oracles need: for each key generation (key, create revision), whether and when it was the
/// *owner* — the live key with the lowest create revision among its siblings (the keys sharing its
/// parent, everything up to the last `/`) — and when it was deleted.
///
/// The mutex and election recipes grant a lock or leadership to exactly that owner, so a grant whose
/// generation never owned its parent was granted against the server's truth.
public struct KeyHistory: Sendable, Equatable {
    /// One generation of a key.
    public struct Generation: Sendable, Hashable {
        /// The key.
        public var key: Key
        /// The revision that created this generation.
        public var createRevision: Int64
        /// The lease the key was created with.
        public var lease: LeaseID?
        /// The first revision at which this generation was the owner of its parent, if ever.
        public var ownerAt: Int64?
        /// The revision that deleted it, if deleted.
        public var deletedAt: Int64?
    }

    private struct GenerationID: Hashable {
        var key: Key
        var createRevision: Int64
    }

    private var generations: [GenerationID: Generation] = [:]
    /// Live keys per parent, in create-revision order (new keys always have the highest revision).
    private var live: [Key: [GenerationID]] = [:]
    private var current: [Key: Int64] = [:]
    private var deletedNow: [Generation] = []
    /// The last revision applied.
    public private(set) var revision: Int64 = 0

    /// Creates an empty history.
    public init() {}

    /// The parent of a key: its bytes up to and including the last `/` (empty if none).
    public static func parent(of key: Key) -> Key {
        guard let slash = key.bytes.lastIndex(of: UInt8(ascii: "/")) else { return Key(bytes: []) }
        return Key(bytes: Array(key.bytes[...slash]))
    }

    /// Applies one watch response (every event of one or more whole revisions, in order) and returns
    /// the generations it deleted.
    @discardableResult
    public mutating func apply(_ response: WatchResponse) -> [Generation] {
        deletedNow.removeAll()
        var touched: [Key] = []
        var pendingRevision: Int64?
        for event in response.events {
            let eventRevision = event.kv.modRevision
            if let pending = pendingRevision, pending != eventRevision {
                settle(touched, at: pending)
                touched.removeAll()
            }
            pendingRevision = eventRevision
            let parent = KeyHistory.parent(of: event.kv.key)
            if !touched.contains(parent) { touched.append(parent) }
            apply(event, parent: parent)
        }
        if let pending = pendingRevision { settle(touched, at: pending) }
        return deletedNow
    }

    private mutating func apply(_ event: WatchEvent, parent: Key) {
        let key = event.kv.key
        switch event.kind {
        case .put:
            guard current[key] != event.kv.createRevision else { return }
            if let old = current[key] {
                remove(GenerationID(key: key, createRevision: old), parent: parent, at: event.kv.modRevision)
            }
            let id = GenerationID(key: key, createRevision: event.kv.createRevision)
            generations[id] = Generation(key: key, createRevision: event.kv.createRevision, lease: event.kv.lease)
            current[key] = event.kv.createRevision
            live[parent, default: []].append(id)
        case .delete:
            guard let old = current[key] else { return }
            remove(GenerationID(key: key, createRevision: old), parent: parent, at: event.kv.modRevision)
        }
    }

    private mutating func remove(_ id: GenerationID, parent: Key, at deleted: Int64) {
        generations[id]?.deletedAt = deleted
        if let generation = generations[id] { deletedNow.append(generation) }
        current[id.key] = nil
        live[parent]?.removeAll { $0 == id }
        if live[parent]?.isEmpty == true { live[parent] = nil }
    }

    private mutating func settle(_ parents: [Key], at revision: Int64) {
        self.revision = max(self.revision, revision)
        for parent in parents {
            guard let owner = live[parent]?.first, generations[owner]?.ownerAt == nil else { continue }
            generations[owner]?.ownerAt = revision
        }
    }

    /// The generation of `key` created at `createRevision`, if the history saw it.
    public func generation(_ key: Key, createRevision: Int64) -> Generation? {
        generations[GenerationID(key: key, createRevision: createRevision)]
    }

    /// The live keys under `parent`, in create-revision order.
    public func liveKeys(under parent: Key) -> [Key] { live[parent]?.map(\.key) ?? [] }
}

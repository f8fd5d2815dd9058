/// The watch registry: which watches want which keys, and the deliveries owed to them.
///
/// Watches on one key are indexed by that key, so a write looks up only the watches of the keys it
/// changed plus the watches on prefixes and intervals (expected to be few), whose ranges it tests.
/// Deliveries are deterministic: one ``WatchDelivery`` per revision and watch, holding every event of
/// that revision the watch matches in the order the write made them; deliveries are queued by
/// revision, then watch ID. Nothing depends on `Dictionary` or `Set` iteration order.
struct WatchRegistry: Equatable, Sendable {
    /// One registered watch.
    struct Watcher: Equatable, Sendable {
        /// The keys watched.
        var range: KeyRange
        /// Whether events carry the previous key-value.
        var prevKV: Bool
        /// The lowest revision whose events the watch is owed from live writes.
        var startRevision: Int64
    }

    /// A watch on a prefix or an interval.
    struct RangeWatcher: Equatable, Sendable {
        var id: WatchID
        var range: KeyRange
    }

    /// Every watch, by ID: IDs are sequential, so an array indexed by them.
    private var watchers = IDTable<Watcher>()
    /// Watches on exactly one key, by that key.
    private var keyWatchers: [Key: KeyWatches] = [:]
    /// Watches on a prefix or an interval, with their ranges, in ID order: a write tests each range
    /// without looking the watch up.
    private var rangeWatchers: [RangeWatcher] = []
    private var nextID: Int64 = 1
    /// Deliveries queued by writes and not yet taken, by revision then watch ID.
    private(set) var pending: [WatchDelivery] = []

    init() {}

    /// How many watches are registered.
    var count: Int { watchers.count }

    /// Registers a watch owed the events of live writes at or above `startRevision`; IDs are sequential
    /// from 1 and never reused.
    mutating func register(_ request: WatchRequest, startRevision: Int64) -> WatchID {
        let id = WatchID(nextID)
        nextID += 1
        watchers.insert(
            Watcher(range: request.range, prevKV: request.prevKV, startRevision: startRevision), for: id.rawValue)
        if case .key(let key) = request.range {
            keyWatchers[key, default: KeyWatches()].append(id)
        } else {
            // IDs only increase, so the array stays in ID order.
            rangeWatchers.append(RangeWatcher(id: id, range: request.range))
        }
        return id
    }

    /// Removes a watch and the deliveries still queued for it; an unknown ID is ignored.
    mutating func cancel(_ id: WatchID) {
        guard let watcher = watchers.removeValue(for: id.rawValue) else { return }
        if case .key(let key) = watcher.range {
            if let index = keyWatchers.index(forKey: key) {
                keyWatchers.values[index].remove(id)
                if keyWatchers.values[index].isEmpty { keyWatchers.remove(at: index) }
            }
        } else {
            rangeWatchers.removeAll { $0.id == id }
        }
        pending.removeAll { $0.watch == id }
    }

    /// The responses a watch on `request.range` is owed from past change sets: one per revision that
    /// changed a key in the range, carrying that revision.
    static func catchUp(_ request: WatchRequest, from changeSets: some Sequence<ChangeSet>) -> [WatchResponse] {
        var responses: [WatchResponse] = []
        for changeSet in changeSets {
            let events = changeSet.changes.lazy
                .filter { request.range.contains($0.key) }
                .map { $0.event(at: changeSet.revision, prevKV: request.prevKV) }
            if !events.isEmpty {
                responses.append(WatchResponse(revision: changeSet.revision, events: Array(events)))
            }
        }
        return responses
    }

    /// Queues the deliveries a committed change set owes.
    mutating func notify(_ changeSet: ChangeSet) {
        if watchers.isEmpty { return }
        // Every event owed, in change order; a watch is on one key or on a range, never both, so
        // no watch is owed one change twice.
        var owed: [(watch: WatchID, event: WatchEvent)] = []
        for change in changeSet.changes {
            func owe(_ id: WatchID) {
                guard let watcher = watchers[id.rawValue], watcher.startRevision <= changeSet.revision else { return }
                owed.append((id, change.event(at: changeSet.revision, prevKV: watcher.prevKV)))
            }
            if !keyWatchers.isEmpty { keyWatchers[change.key]?.forEach(owe) }
            for watcher in rangeWatchers where watcher.range.contains(change.key) {
                owe(watcher.id)
            }
        }
        if owed.count > 1 {
            // By watch, each watch's events still in change order.
            owed = owed.enumerated().sorted { ($0.element.watch, $0.offset) < ($1.element.watch, $1.offset) }
                .map(\.element)
        }
        var start = 0
        while start < owed.count {
            let watch = owed[start].watch
            var end = start + 1
            while end < owed.count, owed[end].watch == watch { end += 1 }
            let response = WatchResponse(revision: changeSet.revision, events: owed[start..<end].map(\.event))
            pending.append(WatchDelivery(watch: watch, response: response))
            start = end
        }
    }

    /// Returns and clears the queued deliveries.
    mutating func takeDeliveries() -> [WatchDelivery] {
        defer { pending = [] }
        return pending
    }
}

/// The watches on one key, in ID order. Nearly every watched key has one or two (a waiter's own key,
/// the key it waits behind), and those are kept inline: no heap object per key, and no hashing.
struct KeyWatches: Equatable, Sendable {
    private var first: WatchID?
    private var second: WatchID?
    private var more: [WatchID] = []

    init() {}

    var isEmpty: Bool { first == nil }

    /// Adds `id`, which is higher than every ID already here.
    mutating func append(_ id: WatchID) {
        if first == nil {
            first = id
        } else if second == nil {
            second = id
        } else {
            more.append(id)
        }
    }

    /// Removes `id` if it is here, keeping the others in order.
    mutating func remove(_ id: WatchID) {
        if first == id {
            first = second
            second = more.isEmpty ? nil : more.removeFirst()
        } else if second == id {
            second = more.isEmpty ? nil : more.removeFirst()
        } else if let index = more.firstIndex(of: id) {
            more.remove(at: index)
        }
    }

    /// Calls `body` with each ID, in order.
    func forEach(_ body: (WatchID) -> Void) {
        guard let first else { return }
        body(first)
        guard let second else { return }
        body(second)
        for id in more { body(id) }
    }
}

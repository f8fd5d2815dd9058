/// Reads: etcd's `Range` with its limit, sort, create-revision filters, keys-only, count-only and
/// reads at a past revision.
///
/// Results are in key order when `sortOrder` is `.none` (whatever the target). Otherwise they are
/// sorted by the target with ties in key order, and `.descend` is exactly the reverse of `.ascend`.
/// `count` is the number of keys in the range before the create-revision filters and `limit`, as in
/// etcd; `more` says the filtered keys did not all fit in `limit`.
///
/// Plans, cheapest first: one key; a current read of a `/`-terminated prefix sorted by create
/// revision, answered from the directory's run of the create index in O(log n + limit); a current
/// read in key order, which seeks to the bound and counts by subtree sizes; everything else (other
/// sort targets, past revisions) materialises the keys in the range and sorts them.
extension Keyspace {
    /// Reads at the current revision or, with `request.revision > 0`, at a past one.
    /// - Throws: `futureRevision` above the current revision, `compacted` below the compacted one.
    func range(_ request: RangeRequest) throws -> RangeResponse {
        try checkReadRevision(request.revision, current: revision)
        return read(request, during: nil).response
    }

    /// Checks that a read at `requested` (0: current) is servable when the store is at `current`.
    func checkReadRevision(_ requested: Int64, current: Int64) throws {
        if requested > current {
            throw BatonError(.futureRevision, "revision \(requested) is past the current revision \(current)")
        }
        if requested > 0 && requested < compactedRevision {
            throw BatonError(.compacted, "revision \(requested) is compacted (at \(compactedRevision))")
        }
    }

    /// Serves a read whose revision was checked, inside `write` when a transaction is running (its
    /// changes are visible; a read at a past revision undoes them). Also returns how many key-values
    /// the plan examined, so tests can tell an index seek from a scan.
    func read(_ request: RangeRequest, during write: PendingWrite?) -> (response: RangeResponse, examined: Int) {
        let current = write?.visibleRevision ?? revision
        if request.revision > 0 && request.revision < current {
            let kvs = keyValues(in: request.range, at: request.revision, undoing: write?.changes ?? [])
            return (Self.shape(kvs, request, revision: current), kvs.count)
        }
        let keyOrder = request.sortOrder == .none || request.sortTarget == .key
        if case .key = request.range {
            // One key: nothing to seek.
        } else if !keyOrder, request.sortTarget == .create, let directory = Self.indexedDirectory(request.range) {
            return readCreateIndex(directory, request, revision: current)
        } else if keyOrder {
            return readKeyOrder(request, revision: current)
        }
        let kvs = liveKeyValues(in: request.range)
        return (Self.shape(kvs, request, revision: current), kvs.count)
    }

    /// The directory whose create index answers `range` exactly: a prefix ending in `/`.
    static func indexedDirectory(_ range: KeyRange) -> Key? {
        switch range {
        case .prefix(let prefix) where prefix.bytes.last == UInt8(ascii: "/"):
            return prefix
        case .interval(let lower, let upper) where lower.bytes.last == UInt8(ascii: "/") && upper == lower.prefixEnd:
            return lower
        default:
            return nil
        }
    }

    /// A create-ordered read of a directory: seek to the first (or last) create revision within the
    /// filters in the directory's run of the create index, then step.
    private func readCreateIndex(
        _ directory: Key, _ request: RangeRequest, revision: Int64
    ) -> (response: RangeResponse, examined: Int) {
        func side(_ position: CreatePosition) -> Int { position.order(ofDirectoryAgainst: directory) }
        let count = createIndex.count(where: { side($0) <= 0 }) - createIndex.count(where: { side($0) < 0 })
        if request.countOnly || count == 0 {
            return (RangeResponse(revision: revision, kvs: [], more: false, count: count), 0)
        }
        let (minCreate, maxCreate) = (request.minCreateRevision, request.maxCreateRevision)
        func atLeastMin(_ revision: Int64) -> Bool { minCreate <= 0 || revision >= minCreate }
        func atMostMax(_ revision: Int64) -> Bool { maxCreate <= 0 || revision <= maxCreate }
        let page: Page
        if request.sortOrder == .descend {
            let positions = createIndex.descending(startingAt: {
                let side = side($0)
                return side < 0 || (side == 0 && atMostMax($0.createRevision))
            })
            let walk = DirectoryWalk(positions: positions, directory: directory)
            page = take(walk, request, indexed) { atLeastMin($0.createRevision) }
        } else {
            let positions = createIndex.ascending(startingAt: {
                let side = side($0)
                return side > 0 || (side == 0 && atLeastMin($0.createRevision))
            })
            let walk = DirectoryWalk(positions: positions, directory: directory)
            page = take(walk, request, indexed) { atMostMax($0.createRevision) }
        }
        let response = RangeResponse(revision: revision, kvs: page.kvs, more: page.more, count: count)
        return (response, page.examined)
    }

    /// A walk of the create index that ends where it leaves `directory`'s run.
    private struct DirectoryWalk: IteratorProtocol {
        var positions: SortedMap<CreatePosition, Present>.InOrderIterator
        let directory: Key

        mutating func next() -> CreatePosition? {
            guard let (position, _) = positions.next(), position.order(ofDirectoryAgainst: directory) == 0 else {
                return nil
            }
            return position
        }
    }

    /// The live key-value of an index entry.
    private func indexed(_ position: CreatePosition) -> KeyValue {
        guard let kv = live[position.key] else {
            preconditionFailure("the create index holds only live keys")
        }
        return kv
    }

    /// A key-ordered read: count by rank, then seek to the range's lower (or upper) bound and step.
    private func readKeyOrder(_ request: RangeRequest, revision: Int64) -> (response: RangeResponse, examined: Int) {
        let lower = request.range.lowerBound
        let upper = request.range.upperBound
        let count = Swift.max(0, (upper.map { live.count(below: $0) } ?? live.count) - live.count(below: lower))
        if request.countOnly {
            return (RangeResponse(revision: revision, kvs: [], more: false, count: count), 0)
        }
        let page: Page
        if request.sortOrder == .descend {
            page = take(live.descending(below: upper), request, { $0.value }) { lower <= $0.key }
        } else {
            page = take(live.ascending(from: lower), request, { $0.value }) { kv in
                upper.map { kv.key < $0 } ?? true
            }
        }
        return (RangeResponse(revision: revision, kvs: page.kvs, more: page.more, count: count), page.examined)
    }

    /// A page of results taken from an ordered walk.
    private struct Page {
        var kvs: [KeyValue] = []
        var more = false
        var examined = 0
    }

    /// Takes key-values (`keyValue` of each element) from an ordered walk while `inBounds` holds,
    /// keeping those that pass the create-revision filters, until `limit` is reached (then `more` is
    /// whether another one passes). Plain closures rather than a lazy map: nothing escapes, so nothing
    /// is allocated for them.
    private func take<Walk: IteratorProtocol>(
        _ walk: consuming Walk, _ request: RangeRequest, _ keyValue: (Walk.Element) -> KeyValue,
        while inBounds: (KeyValue) -> Bool
    ) -> Page {
        var page = Page()
        while let element = walk.next() {
            let kv = keyValue(element)
            page.examined += 1
            guard inBounds(kv) else { break }
            guard Self.passesCreateFilters(kv, request) else { continue }
            if request.limit > 0 && page.kvs.count == request.limit {
                page.more = true
                break
            }
            page.kvs.append(Self.stripped(kv, request))
        }
        return page
    }

    /// Applies count-only, the create-revision filters, sorting, limit and keys-only to key-values in
    /// key order: the general plan.
    static func shape(_ kvs: [KeyValue], _ request: RangeRequest, revision: Int64) -> RangeResponse {
        if request.countOnly {
            return RangeResponse(revision: revision, kvs: [], more: false, count: kvs.count)
        }
        var result = kvs.filter { passesCreateFilters($0, request) }
        if request.sortOrder != .none {
            let ascending = ascendingOrder(request.sortTarget)
            result.sort(by: request.sortOrder == .ascend ? ascending : { ascending($1, $0) })
        }
        var more = false
        if request.limit > 0 && result.count > request.limit {
            result.removeSubrange(request.limit...)
            more = true
        }
        result = result.map { stripped($0, request) }
        return RangeResponse(revision: revision, kvs: result, more: more, count: kvs.count)
    }

    /// The ascending order by `target`, ties broken by key.
    static func ascendingOrder(_ target: SortTarget) -> (KeyValue, KeyValue) -> Bool {
        switch target {
        case .key: { $0.key < $1.key }
        case .version: { ($0.version, $0.key) < ($1.version, $1.key) }
        case .create: { ($0.createRevision, $0.key) < ($1.createRevision, $1.key) }
        case .mod: { ($0.modRevision, $0.key) < ($1.modRevision, $1.key) }
        case .value:
            { $0.value == $1.value ? $0.key < $1.key : $0.value.lexicographicallyPrecedes($1.value) }
        }
    }

    static func passesCreateFilters(_ kv: KeyValue, _ request: RangeRequest) -> Bool {
        (request.maxCreateRevision <= 0 || kv.createRevision <= request.maxCreateRevision)
            && (request.minCreateRevision <= 0 || kv.createRevision >= request.minCreateRevision)
    }

    static func stripped(_ kv: KeyValue, _ request: RangeRequest) -> KeyValue {
        guard request.keysOnly else { return kv }
        var kv = kv
        kv.value = []
        return kv
    }

    /// The key-values in `range` as they were at `target`, in key order: the live ones with every
    /// change above `target` undone (first the pending ones, then the history newest first).
    func keyValues(in range: KeyRange, at target: Int64, undoing pending: [Change]) -> [KeyValue] {
        var undone: [Key: KeyValue?] = [:]
        for change in pending.reversed() where range.contains(change.key) {
            undone.updateValue(change.previous, forKey: change.key)
        }
        for changeSet in history[historyIndex(after: target)...].reversed() {
            for change in changeSet.changes.reversed() where range.contains(change.key) {
                undone.updateValue(change.previous, forKey: change.key)
            }
        }
        var result = liveKeyValues(in: range).filter { undone[$0.key] == nil }
        result += undone.values.compactMap { $0 }
        result.sort { $0.key < $1.key }
        return result
    }
}

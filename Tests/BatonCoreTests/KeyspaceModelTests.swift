import BatonCore
import Testing

/// Random writes against a brute-force model (a dictionary per revision); after every step, a random
/// read — any range, sort, limit, filter, revision — must match the model's answer. This checks the
/// create index, key-order seeks and past-revision reads against one simple implementation.
@Suite struct KeyspaceModelTests {
    struct Model {
        var revision: Int64 = 1
        var compacted: Int64 = 0
        var live: [Key: KeyValue] = [:]
        var snapshots: [Int64: [Key: KeyValue]] = [1: [:]]

        mutating func write(_ body: (inout [Key: KeyValue], Int64) -> Void) {
            var next = live
            body(&next, revision + 1)
            guard next != live else { return }
            revision += 1
            live = next
            snapshots[revision] = live
        }

        static func put(_ key: Key, _ value: [UInt8], in kvs: inout [Key: KeyValue], at revision: Int64) {
            let previous = kvs[key]
            kvs[key] = KeyValue(
                key: key, value: value, createRevision: previous?.createRevision ?? revision,
                modRevision: revision, version: (previous?.version ?? 0) + 1)
        }

        func answer(_ request: RangeRequest) -> RangeResponse {
            let snapshot = snapshots[request.revision > 0 ? request.revision : revision]!
            let inRange = snapshot.values.filter { request.range.contains($0.key) }.sorted { $0.key < $1.key }
            if request.countOnly {
                return RangeResponse(revision: revision, kvs: [], more: false, count: inRange.count)
            }
            var kvs = inRange.filter {
                (request.maxCreateRevision == 0 || $0.createRevision <= request.maxCreateRevision)
                    && (request.minCreateRevision == 0 || $0.createRevision >= request.minCreateRevision)
            }
            if request.sortOrder != .none {
                kvs.sort { Self.precedes($0, $1, by: request.sortTarget) }
                if request.sortOrder == .descend { kvs.reverse() }
            }
            let more = request.limit > 0 && kvs.count > request.limit
            if more { kvs = Array(kvs.prefix(request.limit)) }
            if request.keysOnly {
                kvs = kvs.map {
                    KeyValue(
                        key: $0.key, createRevision: $0.createRevision, modRevision: $0.modRevision,
                        version: $0.version, lease: $0.lease)
                }
            }
            return RangeResponse(revision: revision, kvs: kvs, more: more, count: inRange.count)
        }

        static func precedes(_ a: KeyValue, _ b: KeyValue, by target: SortTarget) -> Bool {
            func field(_ kv: KeyValue) -> Int64 {
                switch target {
                case .version: kv.version
                case .create: kv.createRevision
                case .mod: kv.modRevision
                case .key, .value: 0
                }
            }
            if target == .value, a.value != b.value { return a.value.lexicographicallyPrecedes(b.value) }
            if field(a) != field(b) { return field(a) < field(b) }
            return a.key.bytes.lexicographicallyPrecedes(b.key.bytes)
        }
    }

    static let keys: [Key] = ["d", "d/1", "d/2", "d/3", "d/x/", "d/x/1", "d/x/2", "d0", "e/1"]
    static let ranges: [KeyRange] = [
        .prefix("d/"), .prefix("d/x/"), .interval("d/", "d0"), .prefix("d"), .atLeast("d/2"), .key("d/1"),
        .prefix(""), .interval("d/2", "d/x/2"), .prefix("e/"),
    ]

    @Test(arguments: [11, 12, 13, 14] as [UInt64])
    func randomHistoryMatchesTheModel(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var store = StoreMachine()
        var model = Model()
        func anyKey() -> Key { Self.keys.randomElement(using: &random)! }
        for step in 0..<400 {
            let value = [UInt8(Int.random(in: 97...100, using: &random))]
            switch Int.random(in: 0..<20, using: &random) {
            case 0..<9:
                let key = anyKey()
                _ = try store.put(PutRequest(key: key, value: value))
                model.write { Model.put(key, value, in: &$0, at: $1) }
            case 9..<13:
                let range = Self.ranges.randomElement(using: &random)!
                _ = try store.deleteRange(DeleteRangeRequest(range))
                model.write { kvs, _ in kvs = kvs.filter { !range.contains($0.key) } }
            case 13..<19:
                let (guarded, first, second) = (anyKey(), anyKey(), anyKey())
                let target = Int64.random(in: 0...2, using: &random)
                let request = TxnRequest(
                    compare: [Compare(guarded, .version(target), .greater)],
                    success: [.put(PutRequest(key: first, value: value))]
                        + (second == first ? [] : [.put(PutRequest(key: second, value: value))]),
                    failure: [.deleteRange(DeleteRangeRequest(.key(first)))])
                let response = try store.txn(request)
                #expect(response.succeeded == ((model.live[guarded]?.version ?? 0) > target))
                if response.succeeded {
                    model.write { kvs, revision in
                        Model.put(first, value, in: &kvs, at: revision)
                        if second != first { Model.put(second, value, in: &kvs, at: revision) }
                    }
                } else {
                    model.write { kvs, _ in kvs[first] = nil }
                }
            default:
                if model.revision > model.compacted + 5 {
                    let target = Int64.random(in: (model.compacted + 1)...(model.revision - 3), using: &random)
                    try store.compact(revision: target)
                    model.compacted = target
                }
            }
            #expect(store.revision == model.revision, "step \(step)")
            let oldest = max(1, model.compacted)
            for _ in 0..<3 {
                let request = RangeRequest(
                    Self.ranges.randomElement(using: &random)!, limit: Int.random(in: 0...3, using: &random),
                    revision: Bool.random(using: &random)
                        ? 0 : Int64.random(in: oldest...model.revision, using: &random),
                    sortOrder: [.none, .ascend, .descend].randomElement(using: &random)!,
                    sortTarget: [.key, .version, .create, .mod, .value].randomElement(using: &random)!,
                    keysOnly: Int.random(in: 0..<5, using: &random) == 0,
                    countOnly: Int.random(in: 0..<8, using: &random) == 0,
                    maxCreateRevision: Bool.random(using: &random)
                        ? 0 : Int64.random(in: 1...model.revision, using: &random),
                    minCreateRevision: Bool.random(using: &random)
                        ? 0 : Int64.random(in: 1...model.revision, using: &random))
                let answer = try store.range(request)
                #expect(answer == model.answer(request), "step \(step): \(request)")
            }
        }
        #expect(store.revision > 200)
        #expect(try store.everything() == model.live.values.sorted { $0.key < $1.key })
    }
}

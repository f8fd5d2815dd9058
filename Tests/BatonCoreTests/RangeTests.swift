import Testing

@testable import BatonCore

/// Range options, on a store whose keys under `a/` order differently by every sort target:
///
/// | key | create | mod | version | value |
/// | --- | --- | --- | --- | --- |
/// | a/1 | 3 | 6 | 2 | c |
/// | a/2 | 4 | 4 | 1 | z |
/// | a/3 | 2 | 7 | 3 | k |
/// | b   | 8 | 8 | 1 | x |
@Suite struct RangeTests {
    static func fixture() throws -> StoreMachine {
        var store = StoreMachine()
        try store.put("a/3", "a")  // 2
        try store.put("a/1", "m")  // 3
        try store.put("a/2", "z")  // 4
        try store.put("a/3", "b")  // 5
        try store.put("a/1", "c")  // 6
        try store.put("a/3", "k")  // 7
        try store.put("b", "x")  // 8
        return store
    }

    /// The ranges covering exactly the keys under `a/`: the create index serves the first two.
    static let ranges: [KeyRange] = [.prefix("a/"), .interval("a/", "a0"), .prefix("a"), .interval("a/1", "a/4")]

    static let ascending: [(SortTarget, [String])] = [
        (.key, ["a/1", "a/2", "a/3"]),
        (.version, ["a/2", "a/1", "a/3"]),
        (.create, ["a/3", "a/1", "a/2"]),
        (.mod, ["a/2", "a/1", "a/3"]),
        (.value, ["a/1", "a/3", "a/2"]),
    ]

    @Test(arguments: ranges)
    func sortsByEveryTargetBothWays(range: KeyRange) throws {
        let store = try Self.fixture()
        for (target, expected) in Self.ascending {
            let up = try store.range(RangeRequest(range, sortOrder: .ascend, sortTarget: target))
            #expect(up.kvs.map(\.key.description) == expected, "\(target) ascending")
            #expect(up.count == 3)
            #expect(!up.more)
            let down = try store.keys(RangeRequest(range, sortOrder: .descend, sortTarget: target))
            #expect(down == expected.reversed(), "\(target) descending")
            // `.none` is key order, whatever the target.
            #expect(try store.keys(RangeRequest(range, sortTarget: target)) == ["a/1", "a/2", "a/3"])
        }
    }

    @Test func sortTiesBreakByKey() throws {
        var store = StoreMachine()
        _ = try store.txn(TxnRequest(success: ["d/b", "d/a", "d/c"].map { .put(PutRequest(key: Key($0))) }))
        let up = try store.keys(RangeRequest(.prefix("d/"), sortOrder: .ascend, sortTarget: .create))
        #expect(up == ["d/a", "d/b", "d/c"])
        let down = try store.keys(RangeRequest(.prefix("d/"), sortOrder: .descend, sortTarget: .create))
        #expect(down == ["d/c", "d/b", "d/a"])
        let byValue = try store.keys(RangeRequest(.prefix("d"), sortOrder: .descend, sortTarget: .value))
        #expect(byValue == ["d/c", "d/b", "d/a"])
    }

    @Test(arguments: ranges)
    func limitSetsMoreButNotCount(range: KeyRange) throws {
        let store = try Self.fixture()
        for (limit, more) in [(1, true), (2, true), (3, false), (10, false)] {
            let response = try store.range(RangeRequest(range, limit: limit, sortOrder: .ascend, sortTarget: .create))
            #expect(response.kvs.map(\.key.description) == Array(["a/3", "a/1", "a/2"].prefix(limit)))
            #expect(response.more == more)
            #expect(response.count == 3)
            let byKeyDown = try store.range(RangeRequest(range, limit: limit, sortOrder: .descend))
            #expect(byKeyDown.kvs.map(\.key.description) == Array(["a/3", "a/2", "a/1"].prefix(limit)))
            #expect(byKeyDown.more == more)
            #expect(byKeyDown.count == 3)
        }
    }

    @Test(arguments: ranges)
    func createRevisionFiltersKeepTheUnfilteredCount(range: KeyRange) throws {
        let store = try Self.fixture()
        func read(_ order: SortOrder, _ target: SortTarget, min: Int64 = 0, max: Int64 = 0, limit: Int = 0) throws
            -> RangeResponse
        {
            try store.range(
                RangeRequest(
                    range, limit: limit, sortOrder: order, sortTarget: target, maxCreateRevision: max,
                    minCreateRevision: min))
        }
        #expect(try read(.ascend, .create, max: 3).kvs.map(\.key) == ["a/3", "a/1"])
        #expect(try read(.ascend, .create, max: 3).count == 3)
        #expect(try read(.ascend, .create, min: 3).kvs.map(\.key) == ["a/1", "a/2"])
        #expect(try read(.ascend, .create, min: 3, max: 3).kvs.map(\.key) == ["a/1"])
        #expect(try read(.ascend, .create, min: 5).kvs.isEmpty)
        #expect(try read(.ascend, .create, min: 5).count == 3)
        #expect(try read(.none, .key, max: 3).kvs.map(\.key) == ["a/1", "a/3"])
        #expect(try read(.descend, .key, min: 3).kvs.map(\.key) == ["a/2", "a/1"])
        // The predecessor query: the last key created before revision 4.
        let predecessor = try read(.descend, .create, max: 3, limit: 1)
        #expect(predecessor.kvs.map(\.key) == ["a/1"])
        #expect(predecessor.more)
        #expect(predecessor.count == 3)
        let first = try read(.descend, .create, max: 2, limit: 1)
        #expect(first.kvs.map(\.key) == ["a/3"])
        #expect(!first.more)
        #expect(try read(.descend, .create, max: 1, limit: 1).kvs.isEmpty)
        let keyOrder = try read(.none, .key, max: 3, limit: 1)
        #expect(keyOrder.kvs.map(\.key) == ["a/1"])
        #expect(keyOrder.more)
        #expect(try read(.ascend, .mod, min: 3).kvs.map(\.key) == ["a/2", "a/1"])
    }

    @Test(arguments: ranges)
    func keysOnlyAndCountOnly(range: KeyRange) throws {
        let store = try Self.fixture()
        let keysOnly = try store.range(RangeRequest(range, sortOrder: .ascend, sortTarget: .create, keysOnly: true))
        #expect(keysOnly.kvs.map(\.key) == ["a/3", "a/1", "a/2"])
        #expect(keysOnly.kvs.allSatisfy { $0.value.isEmpty })
        #expect(keysOnly.kvs.map(\.version) == [3, 2, 1])
        for target in [SortTarget.create, .key, .value] {
            let countOnly = try store.range(
                RangeRequest(range, limit: 1, sortOrder: .descend, sortTarget: target, countOnly: true))
            #expect(countOnly == RangeResponse(revision: 8, kvs: [], more: false, count: 3))
        }
    }

    @Test func keyRanges() throws {
        let store = try Self.fixture()
        let a1 = try #require(try store.get("a/1"))
        #expect(a1 == KeyValue(key: "a/1", value: Array("c"), createRevision: 3, modRevision: 6, version: 2))
        #expect(try store.range(RangeRequest(.key("a/1"))).count == 1)
        #expect(
            try store.range(RangeRequest(.key("nope"))) == RangeResponse(revision: 8, kvs: [], more: false, count: 0))
        #expect(try store.range(RangeRequest(.key("a/"))).kvs.isEmpty)
        #expect(try store.keys(RangeRequest(.atLeast("a/2"))) == ["a/2", "a/3", "b"])
        #expect(try store.keys(RangeRequest(.interval("a/2", "b"))) == ["a/2", "a/3"])
        #expect(
            try store.range(RangeRequest(.interval("b", "a")))
                == RangeResponse(revision: 8, kvs: [], more: false, count: 0))
        #expect(try store.keys(RangeRequest(.prefix(""))) == ["a/1", "a/2", "a/3", "b"])
        #expect(
            try store.keys(RangeRequest(.prefix("a/"), sortOrder: .descend, sortTarget: .create)) == [
                "a/2", "a/1", "a/3",
            ])
        #expect(try store.range(RangeRequest(.prefix("zz/"), sortOrder: .ascend, sortTarget: .create)).count == 0)
        #expect(try store.range(RangeRequest(.atLeast("a/3"), countOnly: true)).count == 2)
        #expect(try store.range(RangeRequest(.prefix(""), limit: 2)).more)
    }

    @Test func bytesOrderKeysNotUnicode() throws {
        var store = StoreMachine()
        try store.put(Key(bytes: [0x61, 0xff]))
        try store.put(Key(bytes: [0x61, 0x00]))
        try store.put(Key(bytes: [0x61]))
        let keys = try store.range(RangeRequest(.prefix("a"))).kvs.map(\.key.bytes)
        #expect(keys == [[0x61], [0x61, 0x00], [0x61, 0xff]])
        #expect(
            try store.range(RangeRequest(.atLeast(Key(bytes: [0x61, 0x01])))).kvs.map(\.key.bytes) == [[0x61, 0xff]])
    }

    @Test func readsAtPastRevisions() throws {
        var store = try Self.fixture()
        _ = try store.deleteRange(DeleteRangeRequest(.key("a/2")))  // 9
        let at5 = try store.range(RangeRequest(.prefix("a/"), revision: 5))
        #expect(at5.revision == 9)
        #expect(at5.count == 3)
        #expect(at5.kvs.map(\.valueString) == ["m", "z", "b"])
        #expect(at5.kvs.map(\.version) == [1, 1, 2])
        #expect(at5.kvs.map(\.modRevision) == [3, 4, 5])
        #expect(try store.everything(at: 1).isEmpty)
        #expect(try store.everything(at: 2).map(\.key) == ["a/3"])
        #expect(try store.everything(at: 8).map(\.key) == ["a/1", "a/2", "a/3", "b"])
        #expect(try store.everything(at: 9).map(\.key) == ["a/1", "a/3", "b"])
        #expect(try store.everything(at: 9) == store.everything())
        let sorted = try store.range(
            RangeRequest(.prefix("a/"), limit: 1, revision: 6, sortOrder: .descend, sortTarget: .mod))
        #expect(sorted.kvs.map(\.key) == ["a/1"])
        #expect(sorted.more)
        #expect(sorted.count == 3)
        #expect(try store.range(RangeRequest(.prefix("a/"), revision: 4, countOnly: true)).count == 3)
        #expect(try store.range(RangeRequest(.prefix("a/"), revision: 3, countOnly: true)).count == 2)
    }

    @Test func compactionBoundsPastReads() throws {
        var store = try Self.fixture()
        expectError(.futureRevision) { try store.range(RangeRequest(.prefix(""), revision: 9)) }
        try store.compact(revision: 5)
        #expect(store.compactedRevision == 5)
        expectError(.compacted) { try store.range(RangeRequest(.prefix(""), revision: 4)) }
        expectError(.compacted) { try store.range(RangeRequest(.prefix(""), revision: 1)) }
        #expect(try store.everything(at: 5).map(\.valueString) == ["m", "z", "b"])
        #expect(try store.everything(at: 7).map(\.valueString) == ["c", "z", "k"])
        expectError(.compacted) { try store.compact(revision: 5) }
        expectError(.compacted) { try store.compact(revision: 3) }
        expectError(.futureRevision) { try store.compact(revision: 9) }
        try store.compact(revision: 8)
        #expect(try store.everything(at: 8).count == 4)
        expectError(.compacted) { try store.everything(at: 7) }
        #expect(store.revision == 8)
    }

    @Test func createIndexServesDirectoryQueriesWithoutScanning() throws {
        let store = try Self.fixture()
        func examined(_ request: RangeRequest) -> Int { store.keyspace.read(request, during: nil).examined }
        #expect(Keyspace.indexedDirectory(.prefix("a/")) == "a/")
        #expect(Keyspace.indexedDirectory(.interval("a/", "a0")) == "a/")
        #expect(Keyspace.indexedDirectory(.interval("a/", "b")) == nil)
        #expect(Keyspace.indexedDirectory(.prefix("a")) == nil)
        #expect(examined(RangeRequest(.prefix("a/"), limit: 1, sortOrder: .ascend, sortTarget: .create)) == 2)
        let predecessor = RangeRequest(
            .prefix("a/"), limit: 1, sortOrder: .descend, sortTarget: .create, maxCreateRevision: 3)
        #expect(examined(predecessor) == 2)
        #expect(examined(RangeRequest(.prefix("a"), limit: 1, sortOrder: .ascend, sortTarget: .create)) == 3)
        #expect(Keyspace.directories(of: "a/b/c") == ["a/", "a/b/"])
        #expect(Keyspace.directories(of: "a/b/") == ["a/", "a/b/"])
        #expect(Keyspace.directories(of: "abc") == [])
        // A directory is compared as a prefix of its key, never built.
        let key: Key = "a/b/c"
        #expect(key.order(ofPrefix: 2, comparedWith: "a/") == 0)
        #expect(key.order(ofPrefix: 2, comparedWith: "a/b/") < 0)
        #expect(key.order(ofPrefix: 4, comparedWith: "a/") > 0)
        #expect(key.order(ofPrefix: 4, comparedWith: "a0") < 0)
        #expect(key.order(ofPrefix: 0, comparedWith: "") == 0)
        #expect(key.order(ofPrefix: 2, comparedWith: "a/x", prefix: 2) == 0)
        #expect(key.order(ofPrefix: 4, comparedWith: "a/x", prefix: 2) > 0)
        #expect(key.order(ofPrefix: 4, comparedWith: "a/c/d", prefix: 4) < 0)
    }

    @Test func nestedDirectoriesAreIndexedAtEveryLevel() throws {
        var store = StoreMachine()
        try store.put("x/b/2")  // 2
        try store.put("x/a")  // 3
        try store.put("x/b/1")  // 4
        try store.put("x/b/")  // 5
        let x = try store.keys(RangeRequest(.prefix("x/"), sortOrder: .ascend, sortTarget: .create))
        #expect(x == ["x/b/2", "x/a", "x/b/1", "x/b/"])
        let xb = try store.keys(RangeRequest(.prefix("x/b/"), sortOrder: .descend, sortTarget: .create))
        #expect(xb == ["x/b/", "x/b/1", "x/b/2"])
        _ = try store.deleteRange(DeleteRangeRequest(.prefix("x/b/")))
        #expect(try store.keys(RangeRequest(.prefix("x/"), sortOrder: .ascend, sortTarget: .create)) == ["x/a"])
        #expect(try store.range(RangeRequest(.prefix("x/b/"), sortOrder: .ascend, sortTarget: .create)).count == 0)
        // The index holds live keys only, one entry per directory of each: nothing is left of `x/b/`.
        #expect(store.keyspace.createIndex.map(\.key.key) == ["x/a"])
        try store.compact(revision: store.revision)
        #expect(try store.keys(RangeRequest(.prefix("x/"), sortOrder: .ascend, sortTarget: .create)) == ["x/a"])
        #expect(try store.range(RangeRequest(.prefix("x/b/"), sortOrder: .ascend, sortTarget: .create)).count == 0)
    }
}

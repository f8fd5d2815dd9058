import BatonCore
import Testing

@Suite struct RevisionTests {
    @Test func newStoreIsAtRevisionOne() {
        let store = StoreMachine()
        #expect(store.revision == 1)
        #expect(store.compactedRevision == 0)
        #expect(store.leases.isEmpty)
        #expect(store.nextLeaseExpiry == nil)
    }

    @Test func everyPutAdvancesByOne() throws {
        var store = StoreMachine()
        #expect(try store.put("a", "1").revision == 2)
        #expect(try store.put("b", "1").revision == 3)
        #expect(try store.put("a", "2").revision == 4)
        #expect(store.revision == 4)
        let a = try #require(try store.get("a"))
        #expect(a.createRevision == 2)
        #expect(a.modRevision == 4)
        #expect(a.version == 2)
        #expect(a.valueString == "2")
    }

    @Test func readsDoNotAdvance() throws {
        var store = StoreMachine()
        try store.put("a")
        _ = try store.range(RangeRequest(.prefix("")))
        _ = try store.range(RangeRequest(.key("a"), revision: 1))
        _ = try store.txn(TxnRequest(success: [.range(RangeRequest(.key("a")))]))
        #expect(store.revision == 2)
    }

    @Test func deletingNothingDoesNotAdvance() throws {
        var store = StoreMachine()
        try store.put("a")
        let response = try store.deleteRange(DeleteRangeRequest(.prefix("zzz")))
        #expect(response == DeleteRangeResponse(revision: 2, deleted: 0))
        #expect(store.revision == 2)
        let txn = try store.txn(TxnRequest(success: [.deleteRange(DeleteRangeRequest(.key("nope")))]))
        #expect(txn.revision == 2)
        #expect(store.revision == 2)
    }

    @Test func deletingARangeIsOneRevision() throws {
        var store = StoreMachine()
        for key in ["p/a", "p/b", "p/c", "q"] { try store.put(Key(key)) }
        let response = try store.deleteRange(DeleteRangeRequest(.prefix("p/"), prevKV: true))
        #expect(response.revision == 6)
        #expect(response.deleted == 3)
        #expect(response.prevKVs.map(\.key) == ["p/a", "p/b", "p/c"])
        #expect(store.revision == 6)
        #expect(try store.everything().map(\.key) == ["q"])
    }

    @Test func failedCompareWithoutWritesDoesNotAdvance() throws {
        var store = StoreMachine()
        let response = try store.txn(
            TxnRequest(
                compare: [Compare("a", .version(1), .equal)], success: [.put(PutRequest(key: "a"))],
                failure: [.range(RangeRequest(.key("a")))]))
        #expect(!response.succeeded)
        #expect(response.revision == 1)
        #expect(store.revision == 1)
    }

    @Test func aTransactionsWritesShareOneRevision() throws {
        var store = StoreMachine()
        try store.put("old")
        let response = try store.txn(
            TxnRequest(success: [
                .put(PutRequest(key: "x")), .put(PutRequest(key: "y")),
                .deleteRange(DeleteRangeRequest(.key("old"))),
            ]))
        #expect(response.revision == 3)
        #expect(store.revision == 3)
        #expect(try store.everything().map(\.modRevision) == [3, 3])
    }

    @Test func rejectedWritesDoNotAdvance() throws {
        var store = StoreMachine()
        expectError(.leaseNotFound) { try store.put("a", lease: LeaseID(7)) }
        expectError(.duplicateKey) {
            try store.txn(TxnRequest(success: [.put(PutRequest(key: "a")), .put(PutRequest(key: "a"))]))
        }
        #expect(store.revision == 1)
        #expect(try store.everything().isEmpty)
    }

    @Test func putReturnsPreviousValueOnlyWhenAsked() throws {
        var store = StoreMachine()
        try store.put("a", "1")
        #expect(try store.put(PutRequest(key: "a", value: Array("2"))).prevKV == nil)
        let previous = try store.put(PutRequest(key: "a", value: Array("3"), prevKV: true)).prevKV
        #expect(previous?.valueString == "2")
        #expect(previous?.modRevision == 3)
        #expect(try store.put(PutRequest(key: "fresh", prevKV: true)).prevKV == nil)
    }

    @Test func recreatingAKeyStartsANewGeneration() throws {
        var store = StoreMachine()
        try store.put("a", "1")
        try store.put("a", "2")
        _ = try store.deleteRange(DeleteRangeRequest(.key("a")))
        try store.put("a", "3")
        let a = try #require(try store.get("a"))
        #expect(a.createRevision == 5)
        #expect(a.version == 1)
        #expect(try store.get("a", at: 4) == nil)
        #expect(try store.get("a", at: 3)?.version == 2)
    }

    @Test func equalStoresComeFromEqualHistories() throws {
        var first = StoreMachine()
        var second = StoreMachine()
        try first.put("a", "1")
        try second.put("a", "1")
        #expect(first == second)
        try second.put("a", "1")
        #expect(first != second)
        try first.put("a", "1")
        #expect(first == second)
        _ = try first.grantLease(ttl: 5, id: nil, now: .zero)
        #expect(first != second)
    }
}

extension StoreMachine {
    /// `key` as it was at `revision`.
    func get(_ key: Key, at revision: Int64) throws -> KeyValue? {
        try range(RangeRequest(.key(key), revision: revision)).kvs.first
    }
}

import BatonCore
import Testing

@Suite struct TxnTests {
    static func put(_ key: Key, _ value: String = "", lease: LeaseID? = nil) -> TxnOp {
        .put(PutRequest(key: key, value: Array(value), lease: lease))
    }
    static func delete(_ range: KeyRange) -> TxnOp { .deleteRange(DeleteRangeRequest(range)) }
    static func get(_ range: KeyRange, revision: Int64 = 0) -> TxnOp { .range(RangeRequest(range, revision: revision)) }

    @Test func writingAKeyTwiceAppliesNothing() throws {
        var store = StoreMachine()
        try store.put("a", "0")
        let rejected: [TxnRequest] = [
            TxnRequest(success: [Self.put("b"), Self.put("a"), Self.put("a")]),
            TxnRequest(success: [Self.put("b"), Self.put("a/x"), Self.delete(.prefix("a"))]),
            TxnRequest(success: [Self.delete(.prefix("a")), Self.put("a")]),
            TxnRequest(success: [Self.put("a"), .txn(TxnRequest(success: [Self.put("a")]))]),
            TxnRequest(success: [Self.put("a"), .txn(TxnRequest(failure: [Self.put("a")]))]),
            TxnRequest(success: [
                .txn(TxnRequest(success: [Self.put("a")])), .txn(TxnRequest(success: [Self.put("a")])),
            ]),
            TxnRequest(success: [Self.delete(.atLeast("")), .txn(TxnRequest(success: [Self.put("z")]))]),
            TxnRequest(success: [.txn(TxnRequest(success: [Self.delete(.key("q"))])), Self.put("q")]),
            // The check reads the request, not the data: the branch not taken counts too.
            TxnRequest(compare: [Compare("a", .version(99), .equal)], success: [Self.put("c"), Self.put("c")]),
            TxnRequest(success: [Self.get(.key("a"))], failure: [Self.put("c"), Self.delete(.key("c"))]),
        ]
        for (index, request) in rejected.enumerated() {
            let error = #expect(throws: BatonError.self, "request \(index)") { try store.txn(request) }
            #expect(error?.code == .duplicateKey)
        }
        #expect(store.revision == 2)
        #expect(try store.everything().map(\.key) == ["a"])
    }

    @Test func writesThatEtcdAllowsTwice() throws {
        var store = StoreMachine()
        try store.put("a/1")
        // A key in both branches; in both branches of a nested txn; overlapping deletes.
        _ = try store.txn(TxnRequest(success: [Self.put("x")], failure: [Self.put("x")]))
        _ = try store.txn(TxnRequest(success: [.txn(TxnRequest(success: [Self.put("y")], failure: [Self.put("y")]))]))
        let response = try store.txn(TxnRequest(success: [Self.delete(.prefix("a/")), Self.delete(.key("a/1"))]))
        #expect(store.revision == 5)
        let deleted = response.responses.compactMap { if case .deleteRange(let d) = $0 { d.deleted } else { nil } }
        #expect(deleted == [1, 0])
    }

    @Test func missingLeaseOnThePathTakenAppliesNothing() throws {
        var store = StoreMachine()
        let lease = try store.grantLease(ttl: 10, id: nil, now: .zero).id
        expectError(.leaseNotFound) {
            try store.txn(TxnRequest(success: [Self.put("a", lease: lease), Self.put("b", lease: LeaseID(99))]))
        }
        expectError(.leaseNotFound) {
            try store.txn(
                TxnRequest(success: [Self.put("a"), .txn(TxnRequest(success: [Self.put("n", lease: LeaseID(99))]))]))
        }
        #expect(store.revision == 1)
        #expect(try store.everything().isEmpty)
        #expect(try store.leaseTimeToLive(lease, keys: true, now: .zero).keys.isEmpty)
        // A missing lease on the branch not taken is fine, as is lease 0 (no lease).
        let response = try store.txn(
            TxnRequest(
                compare: [Compare("a", .version(0), .equal)], success: [Self.put("a", lease: LeaseID(0))],
                failure: [Self.put("a", lease: LeaseID(99))]))
        #expect(response.succeeded)
        #expect(try store.get("a")?.lease == nil)
    }

    @Test func badReadRevisionAppliesNothing() throws {
        var store = StoreMachine()
        try store.put("a")
        expectError(.futureRevision) {
            try store.txn(TxnRequest(success: [Self.put("b"), Self.get(.key("a"), revision: 3)]))
        }
        try store.put("a")
        try store.put("a")
        try store.compact(revision: 3)
        expectError(.compacted) {
            try store.txn(TxnRequest(success: [Self.put("b"), Self.get(.key("a"), revision: 2)]))
        }
        #expect(store.revision == 4)
        #expect(try store.get("b") == nil)
    }

    @Test func laterReadsSeeEarlierWrites() throws {
        var store = StoreMachine()
        try store.put("a", "old")  // 2
        try store.put("gone")  // 3
        let response = try store.txn(
            TxnRequest(success: [
                Self.get(.key("a")), Self.put("a", "new"), Self.get(.key("a")), Self.delete(.key("gone")),
                Self.get(.prefix("")), Self.get(.prefix(""), revision: 3), Self.put("p/x"),
                .range(RangeRequest(.prefix("p/"), sortOrder: .ascend, sortTarget: .create)),
            ]))
        #expect(response.revision == 4)
        let reads = response.responses.compactMap(\.range)
        #expect(reads.map(\.revision) == [3, 4, 4, 4, 4])
        #expect(reads[0].kvs.map(\.valueString) == ["old"])
        #expect(reads[1].kvs.map(\.valueString) == ["new"])
        #expect(reads[1].kvs.map(\.modRevision) == [4])
        #expect(reads[2].kvs.map(\.key) == ["a"])
        // A read at the revision before the transaction does not see its writes.
        #expect(reads[3].kvs.map(\.key) == ["a", "gone"])
        #expect(reads[3].kvs.map(\.valueString) == ["old", ""])
        #expect(reads[4].kvs.map(\.key) == ["p/x"])
        #expect(reads[4].kvs.map(\.createRevision) == [4])
        guard case .put(let put) = response.responses[1] else {
            Issue.record("expected a put response")
            return
        }
        #expect(put.revision == 4)
    }

    @Test func nestedTransactionsChooseAgainstTheStateBeforeTheTransaction() throws {
        var store = StoreMachine()
        try store.put("flag", "on")
        let nested = TxnRequest(
            compare: [Compare("x", .createRevision(0), .equal)], success: [Self.put("nested-saw-no-x")],
            failure: [Self.put("nested-saw-x")])
        let response = try store.txn(
            TxnRequest(
                compare: [Compare("flag", .value(Array("on")), .equal)], success: [Self.put("x"), .txn(nested)],
                failure: [Self.put("outer-failed")]))
        #expect(response.succeeded)
        #expect(try store.everything().map(\.key) == ["flag", "nested-saw-no-x", "x"])
        guard case .txn(let inner) = response.responses[1] else {
            Issue.record("expected a nested txn response")
            return
        }
        #expect(inner.succeeded)
        #expect(inner.revision == 3)
        #expect(store.revision == 3)
    }

    /// etcd's mutex step: create the waiter key if absent, then read the owner.
    @Test func lockAcquireTransaction() throws {
        var store = StoreMachine()
        let first = try store.grantLease(ttl: 10, id: nil, now: .zero).id
        let second = try store.grantLease(ttl: 10, id: nil, now: .zero).id
        func acquire(_ lease: LeaseID) throws -> TxnResponse {
            let key = Key("lock/").appending(lease.hex)
            return try store.txn(
                TxnRequest(
                    compare: [Compare(key, .createRevision(0), .equal)],
                    success: [
                        Self.put(key, lease: lease),
                        .range(RangeRequest(.prefix("lock/"), limit: 1, sortOrder: .ascend, sortTarget: .create)),
                    ],
                    failure: [
                        Self.get(.key(key)),
                        .range(RangeRequest(.prefix("lock/"), limit: 1, sortOrder: .ascend, sortTarget: .create)),
                    ]))
        }
        let a = try acquire(first)
        #expect(a.succeeded)
        #expect(a.responses[1].range?.kvs.map(\.key) == ["lock/1"])
        let b = try acquire(second)
        #expect(b.succeeded)
        #expect(b.responses[1].range?.kvs.map(\.key) == ["lock/1"])
        let again = try acquire(second)
        #expect(!again.succeeded)
        #expect(again.responses[0].range?.kvs.first?.createRevision == 3)
        #expect(store.revision == 3)
    }
}

import BatonCore
import Testing

/// Every compare target with every operator, on a present key and on a missing one.
///
/// Key `k`: value "m", create revision 2, mod revision 3, version 2, lease 1.
@Suite struct CompareTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var compare: Compare
        var holds: Bool
        var testDescription: String { "\(compare.range) \(compare.target) \(compare.op) → \(holds)" }

        init(_ key: Key, _ target: Compare.Target, _ op: Compare.Operator, _ holds: Bool) {
            compare = Compare(key, target, op)
            self.holds = holds
        }
    }

    /// For each target: a value below the key's, the key's own, one above — under each operator.
    static func present(_ below: Compare.Target, _ same: Compare.Target, _ above: Compare.Target) -> [Case] {
        [
            Case("k", same, .equal, true), Case("k", below, .equal, false), Case("k", above, .equal, false),
            Case("k", same, .notEqual, false), Case("k", below, .notEqual, true), Case("k", above, .notEqual, true),
            Case("k", same, .less, false), Case("k", below, .less, false), Case("k", above, .less, true),
            Case("k", same, .greater, false), Case("k", below, .greater, true), Case("k", above, .greater, false),
        ]
    }

    static let presentCases: [Case] =
        present(.version(1), .version(2), .version(3))
        + present(.createRevision(1), .createRevision(2), .createRevision(3))
        + present(.modRevision(2), .modRevision(3), .modRevision(4))
        + present(.value(Array("l")), .value(Array("m")), .value(Array("mm")))
        + present(.lease(nil), .lease(LeaseID(1)), .lease(LeaseID(2)))

    static let missingCases: [Case] = [
        Case("gone", .version(0), .equal, true), Case("gone", .version(0), .greater, false),
        Case("gone", .version(1), .less, true), Case("gone", .version(0), .notEqual, false),
        Case("gone", .createRevision(0), .equal, true), Case("gone", .createRevision(0), .less, false),
        Case("gone", .createRevision(1), .notEqual, true), Case("gone", .createRevision(-1), .greater, true),
        Case("gone", .modRevision(0), .equal, true), Case("gone", .modRevision(5), .less, true),
        Case("gone", .modRevision(0), .greater, false), Case("gone", .modRevision(0), .notEqual, false),
        Case("gone", .lease(nil), .equal, true), Case("gone", .lease(LeaseID(0)), .equal, true),
        Case("gone", .lease(LeaseID(1)), .notEqual, true), Case("gone", .lease(LeaseID(1)), .less, true),
        Case("gone", .lease(nil), .greater, false),
        // etcd: a value compare on a missing key never holds, whatever the operator.
        Case("gone", .value([]), .equal, false), Case("gone", .value([]), .notEqual, false),
        Case("gone", .value(Array("a")), .less, false), Case("gone", .value([]), .greater, false),
    ]

    static func fixture() throws -> StoreMachine {
        var store = StoreMachine()
        let lease = try store.grantLease(ttl: 60, id: nil, now: .zero).id
        try store.put("k", "x", lease: lease)
        try store.put("k", "m", lease: lease)
        return store
    }

    @Test(arguments: presentCases + missingCases)
    func compare(_ testCase: Case) throws {
        var store = try Self.fixture()
        let response = try store.txn(
            TxnRequest(
                compare: [testCase.compare], success: [.range(RangeRequest(.key("then")))],
                failure: [.range(RangeRequest(.key("else"))), .range(RangeRequest(.key("else")))]))
        #expect(response.succeeded == testCase.holds)
        #expect(response.responses.count == (testCase.holds ? 1 : 2))
        #expect(store.revision == 3)
    }

    /// A range compare holds when every key in the range satisfies it; a range without keys compares
    /// as one missing key. (EtcdKVTests checks the same compares against etcd.)
    @Test func aRangeCompareHoldsWhenEveryKeyInTheRangeDoes() throws {
        var store = StoreMachine()
        let a = try store.put("p/a", "1").revision
        let b = try store.put("p/b", "2").revision
        try store.put("p0", "outside")
        let holds: [Compare] = [
            Compare(.prefix("p/"), .createRevision(b + 1), .less), Compare(.prefix("p/"), .version(1), .equal),
            Compare(.prefix("none/"), .createRevision(0), .equal),
            Compare(.interval("p/a", "p/b"), .createRevision(a), .equal),
            Compare(.prefix(""), .version(0), .greater),
        ]
        for compare in holds { #expect(try store.txn(TxnRequest(compare: [compare])).succeeded, "\(compare)") }
        let fails: [Compare] = [
            Compare(.prefix("p/"), .createRevision(0), .equal), Compare(.prefix("p/"), .createRevision(b), .less),
            Compare(.prefix("p/"), .value(Array("1")), .equal), Compare(.prefix("none/"), .value([]), .equal),
            Compare(.atLeast("p/b"), .createRevision(b), .equal),
        ]
        for compare in fails { #expect(try !store.txn(TxnRequest(compare: [compare])).succeeded, "\(compare)") }
    }

    @Test func everyCompareMustHold() throws {
        var store = try Self.fixture()
        let good = Compare("k", .version(2), .equal)
        let bad = Compare("k", .modRevision(2), .equal)
        #expect(try store.txn(TxnRequest(compare: [good, good])).succeeded)
        #expect(try !store.txn(TxnRequest(compare: [good, bad])).succeeded)
        #expect(try !store.txn(TxnRequest(compare: [bad, good])).succeeded)
        #expect(try store.txn(TxnRequest(compare: [])).succeeded)
    }
}

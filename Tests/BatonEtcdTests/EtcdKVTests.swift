import BatonCore
import BatonEtcd
import BatonTestSupport
import Testing

/// Range, put, delete, txn and compaction against a real etcd.
@Suite(.enabled(if: EtcdServer.isEnabled))
struct EtcdKVTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func putThenRangeReadsTheKeyAndItsRevisions() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }

        let first = try await gateway.put(PutRequest(key: "a", value: bytes("1")))
        let second = try await gateway.put(PutRequest(key: "a", value: bytes("2"), prevKV: true))
        #expect(second.revision == first.revision + 1)
        #expect(second.prevKV?.valueString == "1")
        #expect(second.prevKV?.modRevision == first.revision)

        let read = try await gateway.range(RangeRequest(.key("a")))
        #expect(read.revision == second.revision)
        #expect(read.count == 1)
        #expect(
            read.kvs == [
                KeyValue(
                    key: "a", value: bytes("2"), createRevision: first.revision, modRevision: second.revision,
                    version: 2)
            ])
        let past = try await gateway.range(RangeRequest(.key("a"), revision: first.revision))
        #expect(past.kvs.first?.valueString == "1")

        let missing = try await gateway.range(RangeRequest(.key("nothing")))
        #expect(missing.kvs.isEmpty && missing.count == 0 && !missing.more)
    }

    @Test func rangeOptions() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        // Created in the order d, c, b, a; values of growing length.
        var revisions: [String: Int64] = [:]
        for (index, name) in ["d", "c", "b", "a"].enumerated() {
            revisions[name] = try await gateway.put(
                PutRequest(key: Key("p/" + name), value: bytes(String(repeating: "x", count: index + 1)))
            ).revision
        }
        _ = try await gateway.put(PutRequest(key: "p0", value: bytes("outside")))
        _ = try await gateway.put(PutRequest(key: "o", value: bytes("before")))

        func keys(_ response: RangeResponse) -> [String] { response.kvs.map(\.key.description) }

        let all = try await gateway.range(RangeRequest(.prefix("p/")))
        #expect(keys(all) == ["p/a", "p/b", "p/c", "p/d"])
        #expect(all.count == 4)

        let limited = try await gateway.range(RangeRequest(.prefix("p/"), limit: 2))
        #expect(keys(limited) == ["p/a", "p/b"])
        #expect(limited.more && limited.count == 4)

        let byCreate = try await gateway.range(
            RangeRequest(.prefix("p/"), limit: 1, sortOrder: .ascend, sortTarget: .create))
        #expect(keys(byCreate) == ["p/d"])
        let newest = try await gateway.range(
            RangeRequest(.prefix("p/"), limit: 1, sortOrder: .descend, sortTarget: .create))
        #expect(keys(newest) == ["p/a"])
        let byValue = try await gateway.range(RangeRequest(.prefix("p/"), sortOrder: .descend, sortTarget: .value))
        #expect(keys(byValue) == ["p/a", "p/b", "p/c", "p/d"])

        let keysOnly = try await gateway.range(RangeRequest(.prefix("p/"), keysOnly: true))
        #expect(keysOnly.kvs.allSatisfy { $0.value.isEmpty } && keysOnly.kvs.count == 4)
        let countOnly = try await gateway.range(RangeRequest(.prefix("p/"), countOnly: true))
        #expect(countOnly.kvs.isEmpty && countOnly.count == 4)

        // etcd's predecessor query: created before c, newest first.
        let predecessor = try await gateway.range(
            RangeRequest(
                .prefix("p/"), limit: 1, sortOrder: .descend, sortTarget: .create,
                maxCreateRevision: try #require(revisions["c"]) - 1))
        #expect(keys(predecessor) == ["p/d"])
        let recent = try await gateway.range(
            RangeRequest(.prefix("p/"), minCreateRevision: try #require(revisions["b"])))
        #expect(keys(recent) == ["p/a", "p/b"])

        #expect(keys(try await gateway.range(RangeRequest(.interval("p/b", "p/d")))) == ["p/b", "p/c"])
        #expect(keys(try await gateway.range(RangeRequest(.atLeast("p0")))) == ["p0"])
        #expect(try await gateway.range(RangeRequest(.prefix(""), countOnly: true)).count == 6)
        #expect(try await gateway.range(RangeRequest(.interval("p/b", ""))).kvs.isEmpty)
    }

    @Test func deleteRangeReturnsWhatItDeleted() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        for name in ["q/1", "q/2", "q/3", "r"] {
            _ = try await gateway.put(PutRequest(key: Key(name), value: bytes(name)))
        }

        let deleted = try await gateway.deleteRange(DeleteRangeRequest(.prefix("q/"), prevKV: true))
        #expect(deleted.deleted == 3)
        #expect(deleted.prevKVs.map(\.valueString) == ["q/1", "q/2", "q/3"])
        let nothing = try await gateway.deleteRange(DeleteRangeRequest(.key("q/1")))
        #expect(nothing.deleted == 0 && nothing.revision == deleted.revision)
        #expect(try await gateway.range(RangeRequest(.prefix(""))).kvs.map(\.key) == ["r"])
    }

    @Test func txnComparesAndBranches() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        let lease = try await gateway.grantLease(ttl: 60, id: nil)

        // etcd's mutex step: create the waiter key if absent and read the owner, in one revision.
        let create = TxnRequest(
            compare: [Compare("lock/a", .createRevision(0), .equal)],
            success: [
                .put(PutRequest(key: "lock/a", lease: lease.id)),
                .range(RangeRequest(.prefix("lock/"), limit: 1, sortOrder: .ascend, sortTarget: .create)),
            ],
            failure: [.range(RangeRequest(.key("lock/a")))])
        let won = try await gateway.txn(create)
        #expect(won.succeeded)
        #expect(won.responses.count == 2)
        guard case .put(let put) = won.responses[0] else {
            Issue.record("expected a put response")
            return
        }
        #expect(put.revision == won.revision)
        #expect(won.responses[1].range?.kvs.first?.createRevision == won.revision)
        #expect(won.responses[1].range?.kvs.first?.lease == lease.id)

        let again = try await gateway.txn(create)
        #expect(!again.succeeded)
        #expect(again.revision == won.revision)
        #expect(again.responses.first?.range?.kvs.first?.createRevision == won.revision)

        // Every target, both outcomes.
        let key: Key = "lock/a"
        let holds: [Compare] = [
            Compare(key, .createRevision(won.revision), .equal), Compare(key, .modRevision(won.revision + 1), .less),
            Compare(key, .version(0), .greater), Compare(key, .value(bytes("x")), .notEqual),
            Compare(key, .lease(lease.id), .equal), Compare("absent", .lease(nil), .equal),
            Compare("absent", .createRevision(0), .equal),
            // A range compare (range_end): every key in the range, or none present.
            Compare(.prefix("lock/"), .createRevision(won.revision), .equal),
            Compare(.prefix("lock/"), .version(0), .greater), Compare(.prefix("none/"), .createRevision(0), .equal),
        ]
        for compare in holds {
            #expect(try await gateway.txn(TxnRequest(compare: [compare])).succeeded, "\(compare)")
        }
        let fails: [Compare] = [
            Compare(key, .createRevision(won.revision), .notEqual), Compare(key, .version(1), .greater),
            Compare(key, .lease(nil), .equal), Compare(key, .value([]), .notEqual),
            // etcd: a value compare on a missing key always fails, whatever the operator.
            Compare("absent", .value([]), .equal), Compare("absent", .value([]), .notEqual),
            Compare(.prefix("lock/"), .createRevision(0), .equal), Compare(.prefix("none/"), .value([]), .equal),
        ]
        for compare in fails {
            #expect(try await !gateway.txn(TxnRequest(compare: [compare])).succeeded, "\(compare)")
        }
    }

    @Test func nestedTxnAndItsErrors() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        _ = try await gateway.put(PutRequest(key: "n", value: bytes("1")))

        let nested = TxnRequest(
            success: [
                .put(PutRequest(key: "m", value: bytes("outer"))),
                .txn(
                    TxnRequest(
                        compare: [Compare("n", .value(bytes("1")), .equal)],
                        success: [
                            .deleteRange(DeleteRangeRequest(.key("n"), prevKV: true)), .range(RangeRequest(.key("m"))),
                        ])),
            ])
        let response = try await gateway.txn(nested)
        #expect(response.succeeded)
        guard case .txn(let inner) = response.responses[1], case .deleteRange(let deleted) = inner.responses[0] else {
            Issue.record("expected a nested txn with a delete: \(response)")
            return
        }
        #expect(inner.succeeded)
        #expect(deleted.deleted == 1 && deleted.prevKVs.first?.valueString == "1")
        #expect(inner.responses[1].range?.kvs.first?.valueString == "outer")

        let duplicate = TxnRequest(success: [.put(PutRequest(key: "d")), .put(PutRequest(key: "d"))])
        await expectBatonError(.duplicateKey) { _ = try await gateway.txn(duplicate) }
        await expectBatonError(.leaseNotFound) {
            _ = try await gateway.txn(TxnRequest(success: [.put(PutRequest(key: "d", lease: LeaseID(424242)))]))
        }
        await expectBatonError(.invalidArgument) { _ = try await gateway.put(PutRequest(key: "")) }
    }

    @Test func compactionMakesOldRevisionsUnreadable() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        let old = try await gateway.put(PutRequest(key: "c", value: bytes("1"))).revision
        let new = try await gateway.put(PutRequest(key: "c", value: bytes("2"))).revision

        try await gateway.compact(revision: new)
        await expectBatonError(.compacted) { _ = try await gateway.range(RangeRequest(.key("c"), revision: old)) }
        await expectBatonError(.compacted) { try await gateway.compact(revision: old) }
        await expectBatonError(.futureRevision) { try await gateway.compact(revision: new + 100) }
        await expectBatonError(.futureRevision) {
            _ = try await gateway.range(RangeRequest(.key("c"), revision: new + 100))
        }
        #expect(try await gateway.range(RangeRequest(.key("c"), revision: new)).kvs.first?.valueString == "2")
    }

    @Test func binaryKeysAndValuesSurvive() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        let key = Key(bytes: [0x00, 0xff, 0x2f, 0x80])
        let value: [UInt8] = Array(0...255)
        _ = try await gateway.put(PutRequest(key: key, value: value))
        let read = try await gateway.range(RangeRequest(.prefix(Key(bytes: [0x00, 0xff]))))
        #expect(read.kvs.first?.key == key)
        #expect(read.kvs.first?.value == value)
        // Large enough that curl would ask for `100-continue`.
        let big = [UInt8](repeating: 0x41, count: 200_000)
        _ = try await gateway.put(PutRequest(key: "big", value: big))
        #expect(try await gateway.range(RangeRequest(.key("big"))).kvs.first?.value == big)
    }
}

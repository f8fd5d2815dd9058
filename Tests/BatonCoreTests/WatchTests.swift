import BatonCore
import Testing

@Suite struct WatchTests {
    @Test func exactAndPrefixWatchesSeeOnlyTheirKeys() throws {
        var store = StoreMachine()
        let (exact, exactCatchUp) = try store.watch(WatchRequest(.key("p/a")))
        let (prefix, _) = try store.watch(WatchRequest(.prefix("p/")))
        let (interval, _) = try store.watch(WatchRequest(.interval("p/b", "q")))
        #expect(exactCatchUp.isEmpty)
        #expect([exact, prefix, interval] == [WatchID(1), WatchID(2), WatchID(3)])
        try store.put("p/a", "1")  // 2
        try store.put("p/b", "1")  // 3
        try store.put("q", "1")  // 4
        try store.put("p/ab", "1")  // 5
        let deliveries = store.takeDeliveries()
        let summary = deliveries.map { "\($0.response.revision) \($0.watch) \($0.response.events.map(\.kv.key))" }
        #expect(summary == ["2 w1 [p/a]", "2 w2 [p/a]", "3 w2 [p/b]", "3 w3 [p/b]", "5 w2 [p/ab]"])
        #expect(store.takeDeliveries().isEmpty)
    }

    @Test func oneDeliveryPerRevisionAndWatchInWriteOrder() throws {
        var store = StoreMachine()
        let (late, _) = try store.watch(WatchRequest(.key("b")))
        let (all, _) = try store.watch(WatchRequest(.prefix("")))
        _ = try store.txn(
            TxnRequest(success: [
                .put(PutRequest(key: "c")), .put(PutRequest(key: "b")), .put(PutRequest(key: "a")),
            ]))
        try store.put("b", "2")
        let deliveries = store.takeDeliveries()
        #expect(deliveries.map(\.watch) == [late, all, late, all])
        #expect(deliveries.map(\.response.revision) == [2, 2, 3, 3])
        #expect(deliveries[1].response.events.map(\.kv.key) == ["c", "b", "a"])
        #expect(deliveries[0].response.events.map(\.kv.key) == ["b"])
    }

    @Test func eventsCarryPrevKVOnlyWhenAsked() throws {
        var store = StoreMachine()
        let (plain, _) = try store.watch(WatchRequest(.key("k")))
        let (withPrev, _) = try store.watch(WatchRequest(.key("k"), prevKV: true))
        try store.put("k", "1")  // 2
        try store.put("k", "2")  // 3
        _ = try store.deleteRange(DeleteRangeRequest(.key("k")))  // 4
        let deliveries = store.takeDeliveries()
        let events = { (id: WatchID) in deliveries.filter { $0.watch == id }.flatMap(\.response.events) }
        let tombstone = KeyValue(key: "k", modRevision: 4)
        let one = KeyValue(key: "k", value: Array("1"), createRevision: 2, modRevision: 2, version: 1)
        let two = KeyValue(key: "k", value: Array("2"), createRevision: 2, modRevision: 3, version: 2)
        #expect(
            events(plain) == [
                WatchEvent(kind: .put, kv: one), WatchEvent(kind: .put, kv: two),
                WatchEvent(kind: .delete, kv: tombstone),
            ])
        #expect(
            events(withPrev) == [
                WatchEvent(kind: .put, kv: one), WatchEvent(kind: .put, kv: two, prevKV: one),
                WatchEvent(kind: .delete, kv: tombstone, prevKV: two),
            ])
    }

    @Test func catchUpDeliversOneResponsePerRevisionThenLiveWrites() throws {
        var store = StoreMachine()
        try store.put("w/a", "1")  // 2
        try store.put("x", "1")  // 3
        try store.put("w/b", "1")  // 4
        _ = try store.deleteRange(DeleteRangeRequest(.prefix("w/")))  // 5
        let (id, catchUp) = try store.watch(WatchRequest(.prefix("w/"), startRevision: 3, prevKV: true))
        #expect(catchUp.map(\.revision) == [4, 5])
        #expect(catchUp[0].events == [WatchEvent(kind: .put, kv: try #require(try store.get("w/b", at: 4)))])
        #expect(catchUp[1].events.map(\.kind) == [.delete, .delete])
        #expect(
            catchUp[1].events.map(\.kv) == [KeyValue(key: "w/a", modRevision: 5), KeyValue(key: "w/b", modRevision: 5)])
        #expect(catchUp[1].events.map(\.prevKV?.valueString) == ["1", "1"])
        #expect(try store.watch(WatchRequest(.prefix("w/"), startRevision: 1)).1.map(\.revision) == [2, 4, 5])
        #expect(try store.watch(WatchRequest(.prefix("w/"), startRevision: 5)).1.map(\.revision) == [5])
        #expect(try store.watch(WatchRequest(.prefix("w/"), startRevision: 6)).1.isEmpty)
        #expect(store.takeDeliveries().isEmpty)
        try store.put("w/c", "1")  // 6
        let live = store.takeDeliveries()
        #expect(live.filter { $0.watch == id }.map(\.response.revision) == [6])
        #expect(live.map(\.watch) == [WatchID(1), WatchID(2), WatchID(3), WatchID(4)])
    }

    @Test func aFutureStartRevisionWaitsForIt() throws {
        var store = StoreMachine()
        let (id, catchUp) = try store.watch(WatchRequest(.prefix(""), startRevision: 4))
        #expect(catchUp.isEmpty)
        try store.put("a")  // 2
        try store.put("a")  // 3
        #expect(store.takeDeliveries().isEmpty)
        try store.put("a")  // 4
        #expect(store.takeDeliveries().map(\.response.revision) == [4])
        let (fromNow, _) = try store.watch(WatchRequest(.prefix(""), startRevision: 0))
        try store.put("a")  // 5
        #expect(store.takeDeliveries().map(\.watch) == [id, fromNow])
    }

    @Test func compactedStartRevisionsAreRefused() throws {
        var store = StoreMachine()
        for _ in 0..<5 { try store.put("a") }  // 2...6
        try store.compact(revision: 4)
        expectError(.compacted) { try store.watch(WatchRequest(.key("a"), startRevision: 4)) }
        expectError(.compacted) { try store.watch(WatchRequest(.key("a"), startRevision: 1)) }
        #expect(try store.watch(WatchRequest(.key("a"), startRevision: 5)).1.map(\.revision) == [5, 6])
    }

    @Test func cancelledWatchesAreOwedNothing() throws {
        var store = StoreMachine()
        let (gone, _) = try store.watch(WatchRequest(.key("a")))
        let (goneRange, _) = try store.watch(WatchRequest(.prefix("")))
        let (kept, _) = try store.watch(WatchRequest(.key("a")))
        try store.put("a")
        store.cancelWatch(gone)
        store.cancelWatch(goneRange)
        store.cancelWatch(WatchID(99))
        #expect(store.takeDeliveries().map(\.watch) == [kept])
        try store.put("a")
        #expect(store.takeDeliveries().map(\.watch) == [kept])
        store.cancelWatch(kept)
        try store.put("a")
        #expect(store.takeDeliveries().isEmpty)
    }

    /// One key's watches are kept two inline and the rest apart: every mix of cancels keeps the others,
    /// delivered in ID order.
    @Test func watchesOnOneKeySurviveEachOthersCancels() throws {
        for cancelled in [[0], [1], [2], [4], [0, 1], [1, 2], [0, 2, 3], [3, 4], [0, 1, 2, 3, 4]] {
            var store = StoreMachine()
            var ids: [WatchID] = []
            for _ in 0..<5 { ids.append(try store.watch(WatchRequest(.key("k"))).0) }
            for index in cancelled { store.cancelWatch(ids[index]) }
            let left = ids.indices.filter { !cancelled.contains($0) }.map { ids[$0] }
            try store.put("k")
            #expect(store.takeDeliveries().map(\.watch) == left, "cancelled \(cancelled)")
            let added = try store.watch(WatchRequest(.key("k"))).0
            try store.put("k")
            #expect(store.takeDeliveries().map(\.watch) == left + [added], "cancelled \(cancelled), then added")
        }
    }

    /// Catch-up plus live deliveries, for watches started at random points from random revisions,
    /// reproduce exactly the history of their ranges from their start revisions: no gaps, no repeats.
    @Test(arguments: [7, 8, 9] as [UInt64])
    func noGapsNoRepeats(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var store = StoreMachine()
        let keys: [Key] = ["a", "a/1", "a/2", "a/b/1", "b", "b/1"]
        let ranges: [KeyRange] = [.key("a/1"), .key("b"), .prefix("a/"), .prefix(""), .interval("a/2", "b/")]
        var watches: [(id: WatchID, request: WatchRequest, start: Int64, received: [WatchResponse])] = []
        var all: [WatchResponse] = []  // every revision's events, from an all-keys watch with prevKV
        let (allID, _) = try store.watch(WatchRequest(.prefix(""), prevKV: true))
        func collect() {
            for delivery in store.takeDeliveries() {
                if delivery.watch == allID { all.append(delivery.response) }
                if let index = watches.firstIndex(where: { $0.id == delivery.watch }) {
                    watches[index].received.append(delivery.response)
                }
            }
        }
        for _ in 0..<300 {
            let key = keys.randomElement(using: &random)!
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5: try store.put(key, "\(Int.random(in: 0..<9, using: &random))")
            case 5..<7:
                _ = try store.deleteRange(DeleteRangeRequest(Bool.random(using: &random) ? .key(key) : .prefix(key)))
            case 7:
                _ = try store.txn(TxnRequest(success: [.put(PutRequest(key: key)), .put(PutRequest(key: "z"))]))
            default:
                collect()
                let start = Int64.random(in: 1...(store.revision + 2), using: &random)
                let range = ranges.randomElement(using: &random)!
                let request = WatchRequest(range, startRevision: start, prevKV: Bool.random(using: &random))
                let (id, catchUp) = try store.watch(request)
                watches.append((id, request, start, catchUp))
            }
        }
        collect()
        #expect(watches.count > 10)
        for watch in watches {
            var expected: [WatchResponse] = []
            for response in all where response.revision >= watch.start {
                let events = response.events.filter { watch.request.range.contains($0.kv.key) }.map {
                    WatchEvent(kind: $0.kind, kv: $0.kv, prevKV: watch.request.prevKV ? $0.prevKV : nil)
                }
                if !events.isEmpty { expected.append(WatchResponse(revision: response.revision, events: events)) }
            }
            let firstDifference =
                zip(watch.received, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? (watch.received.count == expected.count ? nil : min(watch.received.count, expected.count))
            #expect(
                firstDifference == nil,
                """
                \(watch.id) on \(watch.request.range) from \(watch.start): response \(firstDifference ?? 0) is \
                \(firstDifference.flatMap { watch.received.indices.contains($0) ? watch.received[$0] : nil } as Any), \
                expected \(firstDifference.flatMap { expected.indices.contains($0) ? expected[$0] : nil } as Any)
                """)
        }
        #expect(all.map(\.revision) == Array(2...store.revision))
    }
}

import BatonCore
import BatonTestSupport
import Testing

@testable import BatonEtcd

/// Watch against a real etcd: created-then-events, ranges, history, compaction, consumer stop,
/// gateway close and reconnection across restarts.
@Suite(.enabled(if: EtcdServer.isEnabled))
struct EtcdWatchTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func aWriteAfterWatchReturnsIsSeen() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        _ = try await gateway.put(PutRequest(key: "w", value: bytes("before")))

        // How long watch() takes to return (connect, request, `created` frame), over a few watches.
        let clock = ContinuousClock()
        var latencies: [Duration] = []
        for _ in 0..<20 {
            let started = clock.now
            _ = try await gateway.watch(WatchRequest(.key("w")))
            latencies.append(started.duration(to: clock.now))
        }
        latencies.sort()
        print("watch created: median \(latencies[10]), max \(latencies[19]) over 20 watches")
        #expect(latencies.allSatisfy { $0 < .seconds(5) })
        let stream = try await gateway.watch(WatchRequest(.key("w")))
        // Written right after watch() returned: the watch must see it, and not the earlier write.
        let put = try await gateway.put(PutRequest(key: "w", value: bytes("after")))
        _ = try await gateway.deleteRange(DeleteRangeRequest(.key("w")))

        var iterator = stream.makeAsyncIterator()
        let first = try #require(try await iterator.next())
        #expect(first.events.map(\.kv.valueString) == ["after"])
        #expect(first.events.first?.kv.modRevision == put.revision)
        #expect(first.revision == put.revision)
        #expect(first.events.first?.prevKV == nil)
        let second = try #require(try await iterator.next())
        #expect(second.events.map(\.kind) == [.delete])
        #expect(second.events.first?.kv == KeyValue(key: "w", modRevision: put.revision + 1))
    }

    @Test func prefixWatchWithPreviousValues() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        let stream = try await gateway.watch(WatchRequest(.prefix("p/"), prevKV: true))
        _ = try await gateway.put(PutRequest(key: "p/a", value: bytes("1")))
        _ = try await gateway.put(PutRequest(key: "q", value: bytes("outside")))
        _ = try await gateway.put(PutRequest(key: "p", value: bytes("outside too")))
        _ = try await gateway.put(PutRequest(key: "p/a", value: bytes("2")))
        // One txn, one revision, two events in one response.
        _ = try await gateway.txn(
            TxnRequest(success: [
                .put(PutRequest(key: "p/b", value: bytes("3"))), .deleteRange(DeleteRangeRequest(.key("p/a"))),
            ]))

        var seen: [String] = []
        for try await response in stream {
            for event in response.events {
                let previous = event.prevKV.map { "<-\($0.valueString)" } ?? ""
                seen.append("\(event.kind == .put ? "PUT" : "DEL") \(event.kv.key)=\(event.kv.valueString)\(previous)")
            }
            if seen.count >= 4 { break }
        }
        #expect(seen == ["PUT p/a=1", "PUT p/a=2<-1", "PUT p/b=3", "DEL p/a=<-2"])
    }

    @Test func watchFromAPastRevisionReplaysHistory() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        let first = try await gateway.put(PutRequest(key: "h", value: bytes("1"))).revision
        _ = try await gateway.put(PutRequest(key: "h", value: bytes("2")))
        _ = try await gateway.put(PutRequest(key: "h", value: bytes("3")))
        let stream = try await gateway.watch(WatchRequest(.key("h"), startRevision: first + 1))
        var values: [String] = []
        for try await response in stream {
            values += response.events.map(\.kv.valueString)
            if values.count >= 2 { break }
        }
        #expect(values == ["2", "3"])
    }

    @Test func aWatchBelowTheCompactedRevisionEndsWithCompacted() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        let old = try await gateway.put(PutRequest(key: "c", value: bytes("1"))).revision
        let new = try await gateway.put(PutRequest(key: "c", value: bytes("2"))).revision
        try await gateway.compact(revision: new)
        let stream = try await gateway.watch(WatchRequest(.key("c"), startRevision: old))
        await expectBatonError(.compacted) {
            for try await response in stream { Issue.record("unexpected \(response)") }
        }
    }

    @Test func aConsumerThatStopsClosesTheServerSideWatch() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        let watchers = "etcd_debugging_mvcc_watcher_total"
        do {
            let stream = try await gateway.watch(WatchRequest(.key("s")))
            #expect(await etcd.metric(watchers) == 1)
            _ = try await gateway.put(PutRequest(key: "s"))
            for try await _ in stream { break }
        }
        // The stream was dropped: its connection is closed, and etcd forgets the watcher.
        #expect(await etcd.waitForMetric(watchers) { $0 == 0 } == 0)
        #expect(gateway.runningWatchCount == 0)

        // A consumer task that is cancelled while waiting does the same.
        let stream = try await gateway.watch(WatchRequest(.key("s")))
        let consumer = Task {
            for try await _ in stream {}
        }
        #expect(await etcd.waitForMetric(watchers) { $0 == 1 } == 1)
        consumer.cancel()
        _ = await consumer.result
        #expect(await etcd.waitForMetric(watchers) { $0 == 0 } == 0)
    }

    @Test func closingTheGatewayEndsItsWatches() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        let stream = try await gateway.watch(WatchRequest(.prefix("")))
        await gateway.close()
        await expectBatonError(.alreadyClosed) {
            for try await response in stream { Issue.record("unexpected \(response)") }
        }
        await expectBatonError(.alreadyClosed) { _ = try await gateway.range(RangeRequest(.key("a"))) }
        await expectBatonError(.alreadyClosed) { _ = try await gateway.watch(WatchRequest(.key("a"))) }
        #expect(await etcd.waitForMetric("etcd_debugging_mvcc_watcher_total") { $0 == 0 } == 0)
    }

    @Test func aWatchResumesAfterEtcdRestarts() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        let stream = try await gateway.watch(WatchRequest(.prefix("r/")))
        var iterator = stream.makeAsyncIterator()
        _ = try await gateway.put(PutRequest(key: "r/1"))
        #expect(try await iterator.next()?.events.map(\.kv.key) == ["r/1"])

        // A graceful stop sends the `transport is closing` frame; a kill just cuts the connection.
        await etcd.stop()
        try await etcd.restart()
        _ = try await gateway.put(PutRequest(key: "r/2"))
        #expect(try await iterator.next()?.events.map(\.kv.key) == ["r/2"])

        await etcd.kill()
        try await etcd.restart()
        _ = try await gateway.put(PutRequest(key: "r/3"))
        #expect(try await iterator.next()?.events.map(\.kv.key) == ["r/3"])
    }
}

import BatonCore
import BatonEtcd
import BatonTestSupport
import Testing

/// Failover, unreachable and frozen endpoints, and servers that are not etcd: every call ends
/// within its timeout with the fitting error.
///
/// Tests that start no etcd may run while the CPU-bound model tests of other suites hold the
/// cooperative threads, so their bounds leave seconds of slack; the error (its code, the timeout its
/// message names, a `CancellationError`) tells which way a call ended.
@Suite(.enabled(if: EtcdServer.isEnabled), .serialized)
struct EtcdFailureTests {
    private let clock = ContinuousClock()

    /// Runs `body` and returns how long it took.
    private func timed(_ body: () async throws -> Void) async rethrows -> Duration {
        let start = clock.now
        try await body()
        return start.duration(to: clock.now)
    }

    @Test func aDeadFirstEndpointFailsOverToTheSecond() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let dead = try DeadPort()
        defer { withExtendedLifetime(dead) {} }  // held until the test ends
        let gateway = try EtcdGateway(configuration: EtcdConfiguration(endpoints: [dead.url, etcd.clientURL]))
        defer { gateway.closeSoon() }
        _ = try await gateway.put(PutRequest(key: "f", value: Array("1".utf8)))
        #expect(try await gateway.range(RangeRequest(.key("f"))).kvs.first?.valueString == "1")
        let stream = try await gateway.watch(WatchRequest(.key("f")))
        _ = try await gateway.put(PutRequest(key: "f", value: Array("2".utf8)))
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next()?.events.first?.kv.valueString == "2")
    }

    @Test func anUnreachableEndpointIsUnavailableAtOnce() async throws {
        let dead = try DeadPort()
        defer { withExtendedLifetime(dead) {} }  // held until the test ends
        let gateway = try EtcdGateway(
            configuration: EtcdConfiguration(
                endpoints: [dead.url, dead.url], dialTimeout: .seconds(60), requestTimeout: .seconds(60)))
        defer { gateway.closeSoon() }
        let elapsed = await timed {
            let error = await expectBatonError(.unavailable) { _ = try await gateway.range(RangeRequest(.key("a"))) }
            #expect(error?.cause != nil)
        }
        #expect(elapsed < .seconds(30))  // refused at once; waiting out a dial timeout would take 60 s
        await expectBatonError(.unavailable) { _ = try await gateway.watch(WatchRequest(.key("a"))) }
    }

    @Test func aServerThatNeverAnswersTimesOutThenIsSkipped() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let silent = try StubHTTPServer(.silent)
        defer { silent.stop() }
        let gateway = try EtcdGateway(
            configuration: EtcdConfiguration(
                endpoints: [silent.url, etcd.clientURL], dialTimeout: .milliseconds(300), requestTimeout: .seconds(1)))
        defer { gateway.closeSoon() }
        // The request may have reached the server: it is not sent again elsewhere.
        let first = await timed { await expectBatonError(.timeout) { _ = try await gateway.put(PutRequest(key: "t")) } }
        #expect(first >= .seconds(1) && first < .seconds(3))
        // The frozen endpoint is probed within the dial timeout next time, and skipped.
        let second = try await timed { _ = try await gateway.put(PutRequest(key: "t")) }
        #expect(second < .seconds(1))
        #expect(try await gateway.range(RangeRequest(.key("t"))).count == 1)
    }

    @Test func aPausedEtcdTimesOutAndRecovers() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway(requestTimeout: .milliseconds(500))
        defer { gateway.closeSoon() }
        _ = try await gateway.put(PutRequest(key: "z"))
        etcd.pause()
        let elapsed = await timed {
            await expectBatonError(.timeout) { _ = try await gateway.range(RangeRequest(.key("z"))) }
        }
        #expect(elapsed < .seconds(2))
        await expectBatonError(.unavailable) { _ = try await gateway.range(RangeRequest(.key("z"))) }
        etcd.resume()
        #expect(try await gateway.range(RangeRequest(.key("z"))).count == 1)
    }

    @Test func aWatchOnAFrozenServerTimesOut() async throws {
        let silent = try StubHTTPServer(.silent)
        defer { silent.stop() }
        let gateway = try EtcdGateway(
            configuration: EtcdConfiguration(endpoints: [silent.url], requestTimeout: .milliseconds(500)))
        defer { gateway.closeSoon() }
        let elapsed = await timed {
            let error = await expectBatonError(.timeout) { _ = try await gateway.watch(WatchRequest(.key("a"))) }
            #expect(error?.message.contains("within \(Duration.milliseconds(500))") == true)
        }
        #expect(elapsed < .seconds(20))
    }

    @Test(arguments: [
        StubHTTPServer.Behaviour.respond(status: 404, contentType: "text/plain", body: "404 page not found"),
        .respond(status: 200, contentType: "text/html", body: "<html><body>hello</body></html>"),
        .respond(status: 200, contentType: "application/json", body: #"{"kvs":"nope"}"#),
        .respond(status: 501, contentType: "text/html", body: "<h1>Unsupported method ('POST')</h1>"),
        .garbage,
    ])
    func aServerThatIsNotEtcdIsMalformed(_ behaviour: StubHTTPServer.Behaviour) async throws {
        let stub = try StubHTTPServer(behaviour)
        defer { stub.stop() }
        let gateway = try EtcdGateway(
            configuration: EtcdConfiguration(endpoints: [stub.url], requestTimeout: .seconds(2)))
        defer { gateway.closeSoon() }
        await expectBatonError(.malformedResponse) { _ = try await gateway.range(RangeRequest(.key("a"))) }
        await expectBatonError(.malformedResponse) { _ = try await gateway.keepAliveLease(LeaseID(1)) }
        await expectBatonError(.malformedResponse) { _ = try await gateway.watch(WatchRequest(.key("a"))) }
    }

    @Test func aCancelledCallEndsAtOnce() async throws {
        let silent = try StubHTTPServer(.silent)
        defer { silent.stop() }
        let gateway = try EtcdGateway(
            configuration: EtcdConfiguration(endpoints: [silent.url], requestTimeout: .seconds(30)))
        defer { gateway.closeSoon() }
        let call = Task { try await gateway.range(RangeRequest(.key("a"))) }
        let watch = Task { try await gateway.watch(WatchRequest(.key("a"))) }
        call.cancel()
        watch.cancel()
        let elapsed = await timed {
            await #expect(throws: CancellationError.self) { _ = try await call.value }
            await #expect(throws: CancellationError.self) { _ = try await watch.value }
        }
        #expect(elapsed < .seconds(20))  // ended by the cancellation, not the 30 s request timeout
    }
}

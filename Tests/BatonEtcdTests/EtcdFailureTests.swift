import BatonCore
import BatonEtcd
import BatonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Failover, unreachable and frozen endpoints, and servers that are not etcd: every call ends with
/// the fitting error, and the error shows which way it ended.
///
/// These tests may run while CPU-bound tests of other suites hold the cooperative threads, which
/// delays every reply and timer, so no test bounds how long a call took. The error tells instead: a
/// refused dial has the refusal as its cause, a request timeout names its duration, a cancelled
/// call throws `CancellationError`, and a call sent to a frozen endpoint could not have succeeded.
/// The suite's time limit ends a call that never returns.
@Suite(.enabled(if: EtcdServer.isEnabled), .serialized, .timeLimit(.minutes(5)))
struct EtcdFailureTests {
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
        // Refused at once: the cause is the refusal, not the 60 s dial timeout.
        let error = await expectBatonError(.unavailable) { _ = try await gateway.range(RangeRequest(.key("a"))) }
        let cause = String(describing: error?.cause)
        #expect(cause.contains("errno \(ECONNREFUSED)"), "\(cause)")
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
        let start = ContinuousClock.now
        let first = await expectBatonError(.timeout) { _ = try await gateway.put(PutRequest(key: "t")) }
        #expect(first?.message.contains("within \(Duration.seconds(1))") == true, "\(String(describing: first))")
        #expect(start.duration(to: .now) >= .seconds(1))  // a lower bound: a busy machine only adds to it
        // The frozen endpoint now comes after the one that works: sent to it again, this put would time out.
        _ = try await gateway.put(PutRequest(key: "t"))
        #expect(try await gateway.range(RangeRequest(.key("t"))).count == 1)
    }

    @Test func aPausedEtcdTimesOutAndRecovers() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway(requestTimeout: .milliseconds(500))
        defer { gateway.closeSoon() }
        _ = try await gateway.put(PutRequest(key: "z"))
        etcd.pause()
        let timedOut = await expectBatonError(.timeout) { _ = try await gateway.range(RangeRequest(.key("z"))) }
        #expect(timedOut?.message.contains("within \(Duration.milliseconds(500))") == true)
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
        let error = await expectBatonError(.timeout) { _ = try await gateway.watch(WatchRequest(.key("a"))) }
        #expect(error?.message.contains("within \(Duration.milliseconds(500))") == true)
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
        // Ended by the cancellation: the 30 s request timeout would have thrown `timeout`.
        await #expect(throws: CancellationError.self) { _ = try await call.value }
        await #expect(throws: CancellationError.self) { _ = try await watch.value }
    }
}

import Baton
import BatonTestSupport
import Testing

/// Bad input at the recipe level: `BatonClient.connect` and the first `session()` against an
/// endpoint that is down, a server that is not etcd, a server that never answers and wrong
/// credentials each fail with a clear `BatonError` that carries its cause, within the configured
/// timeouts. (The gateway tests cover the raw calls.)
///
/// The time bounds are generous: these tests start with the run, while the CPU-bound model tests of
/// other suites hold both of this machine's cooperative threads, which has delayed a one-second
/// timeout by nine seconds. So what tells a fast failure from a slow one is the error (a refused dial
/// is `unavailable`, not `timeout`; a request timeout names its own duration), and each bound stays
/// far below the configured timeout it must not wait out, or catches a hang.
@Suite(.enabled(if: EtcdServer.isEnabled)) struct ConnectFailureTests {
    private let clock = ContinuousClock()

    /// Connects, starts a session, and expects `code` within `timeout`; returns the error.
    @discardableResult
    private func expectSessionFails(
        _ connection: String, _ code: BatonError.Code, within timeout: Duration,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async -> BatonError? {
        let start = clock.now
        let error = await expectBatonError(
            code, within: timeout + .seconds(5), "session() on \(connection)", sourceLocation: sourceLocation
        ) {
            let client = try await BatonClient.connect(connection)
            defer { Task { await client.close() } }
            return try await client.session(ttl: .seconds(10))
        }
        let elapsed = start.duration(to: clock.now)
        #expect(elapsed < timeout, "took \(elapsed.seconds) s", sourceLocation: sourceLocation)
        #expect(error?.cause != nil, "\(String(describing: error)) has no cause", sourceLocation: sourceLocation)
        return error
    }

    @Test func unreachableEndpointsAreUnavailableAtOnce() async throws {
        let dead = try [DeadPort(), DeadPort()]
        // Refused connections fail at once (`unavailable`), not after the (long) dial timeout.
        let error = await expectSessionFails(
            "etcd:\(dead.map(\.url).joined(separator: ","))?dial-timeout=120s&request-timeout=120s", .unavailable,
            within: .seconds(60))  // half the dial timeout: waiting out either dial would take 240 s
        #expect(error?.message.contains(dead[1].url) == true, "\(String(describing: error))")
    }

    @Test(arguments: [
        StubHTTPServer.Behaviour.respond(status: 404, contentType: "text/plain", body: "404 page not found"),
        .respond(status: 200, contentType: "text/html", body: "<html><body>a web server</body></html>"),
        .garbage,
    ])
    func aServerThatIsNotEtcdIsMalformed(_ behaviour: StubHTTPServer.Behaviour) async throws {
        let stub = try StubHTTPServer(behaviour)
        defer { stub.stop() }
        // Far below the 20 s request timeout: the reply is recognised as not etcd's, not waited out.
        await expectSessionFails("etcd:\(stub.url)?request-timeout=20s", .malformedResponse, within: .seconds(12))
    }

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        let silent = try StubHTTPServer(.silent)
        defer { silent.stop() }
        let start = clock.now
        // The 1 s request timeout ends it (its message says so), not the 5 s default, nor a hang.
        let error = await expectSessionFails("etcd:\(silent.url)?request-timeout=1s", .timeout, within: .seconds(30))
        #expect(error?.message.contains("within \(Duration.seconds(1))") == true, "\(String(describing: error))")
        #expect(start.duration(to: clock.now) >= .seconds(1))
    }

    @Test func wrongCredentialsAreRejectedAndRightOnesWork() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        try etcd.etcdctl("user", "add", "root:pw")
        try etcd.etcdctl("auth", "enable")
        let wrong = await expectSessionFails(
            etcd.connectionString("username=root", "password=nope"), .authenticationFailed, within: .seconds(4))
        #expect(wrong?.message.contains("root") == true)

        // Without credentials, etcd 3.4 still grants the lease (it checks no permission for that),
        // so the session starts; the first lock is refused.
        let anonymous = try await BatonClient.connect(etcd.connectionString())
        defer { Task { await anonymous.close() } }
        let stranger = try await anonymous.session(ttl: .seconds(10))
        let refused = await expectBatonError(.authenticationFailed, within: .seconds(5), "an anonymous lock") {
            try await stranger.mutex("guarded").lock()
        }
        #expect(refused?.cause != nil)
        stranger.orphan()

        let client = try await BatonClient.connect(etcd.connectionString("username=root", "password=pw"))
        defer { Task { await client.close() } }
        let session = try await client.session(ttl: .seconds(10))
        let grant = try await session.mutex("guarded").lock()
        try await grant.unlock()
        try await session.close()
    }

    @Test func anHTTPSEndpointIsRefusedByConnect() async throws {
        await expectBatonError(.invalidArgument, within: .seconds(5), "connect to https") {
            try await BatonClient.connect("etcd:https://127.0.0.1:2379")
        }
    }
}

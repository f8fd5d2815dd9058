import Baton
import BatonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Bad input at the recipe level: `BatonClient.connect` and the first `session()` against an
/// endpoint that is down, a server that is not etcd, a server that never answers and wrong
/// credentials each fail with a clear `BatonError` that carries its cause, and the error shows that
/// the call did not wait out a timeout it should not have. (The gateway tests cover the raw calls.)
///
/// No test here bounds how long a call took: these tests start with the run, while CPU-bound tests
/// of other suites may hold both of this machine's cooperative threads, which has delayed a
/// one-second timeout by nine seconds and a stub's instant reply by thirteen. What tells a fast
/// failure from a slow one is the error itself: a refused dial is `unavailable` with the refusal as
/// its cause, a reply that is not etcd's is `malformedResponse`, and a request timeout is `timeout`
/// and names its own duration. The bound of ``hang`` only ends a call that never returns.
@Suite(.enabled(if: EtcdServer.isEnabled)) struct ConnectFailureTests {
    /// How long a call may run before it counts as hung: longer than any timeout a test configures.
    private static let hang = Duration.seconds(90)

    /// Connects, starts a session, and expects `code`; returns the error.
    @discardableResult
    private func expectSessionFails(
        _ connection: String, _ code: BatonError.Code, sourceLocation: SourceLocation = #_sourceLocation
    ) async -> BatonError? {
        let error = await expectBatonError(
            code, within: Self.hang, "session() on \(connection)", sourceLocation: sourceLocation
        ) {
            let client = try await BatonClient.connect(connection)
            defer { Task { await client.close() } }
            return try await client.session(ttl: .seconds(10))
        }
        #expect(error?.cause != nil, "\(String(describing: error)) has no cause", sourceLocation: sourceLocation)
        return error
    }

    @Test func unreachableEndpointsAreUnavailableAtOnce() async throws {
        let dead = try [DeadPort(), DeadPort()]
        // Refused connections fail at once: the cause is the refusal, not the (long) dial timeout.
        let error = await expectSessionFails(
            "etcd:\(dead.map(\.url).joined(separator: ","))?dial-timeout=60s&request-timeout=60s", .unavailable)
        #expect(error?.message.contains(dead[1].url) == true, "\(String(describing: error))")
        let cause = String(describing: error?.cause)
        #expect(cause.contains("errno \(ECONNREFUSED)"), "\(cause)")
    }

    @Test(arguments: [
        StubHTTPServer.Behaviour.respond(status: 404, contentType: "text/plain", body: "404 page not found"),
        .respond(status: 200, contentType: "text/html", body: "<html><body>a web server</body></html>"),
        .garbage,
    ])
    func aServerThatIsNotEtcdIsMalformed(_ behaviour: StubHTTPServer.Behaviour) async throws {
        let stub = try StubHTTPServer(behaviour)
        defer { stub.stop() }
        // The reply is recognised as not etcd's (a wait for the 20 s request timeout would be `timeout`).
        await expectSessionFails("etcd:\(stub.url)?request-timeout=20s", .malformedResponse)
    }

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        let silent = try StubHTTPServer(.silent)
        defer { silent.stop() }
        let start = ContinuousClock.now
        // The 1 s request timeout ends it (its message says so), not the 5 s default, nor a hang.
        let error = await expectSessionFails("etcd:\(silent.url)?request-timeout=1s", .timeout)
        #expect(error?.message.contains("within \(Duration.seconds(1))") == true, "\(String(describing: error))")
        #expect(start.duration(to: .now) >= .seconds(1))  // a lower bound: a busy machine only adds to it
    }

    @Test func wrongCredentialsAreRejectedAndRightOnesWork() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        try etcd.etcdctl("user", "add", "root:pw")
        try etcd.etcdctl("auth", "enable")
        let wrong = await expectSessionFails(
            etcd.connectionString("username=root", "password=nope"), .authenticationFailed)
        #expect(wrong?.message.contains("root") == true)

        // Without credentials, etcd 3.4 still grants the lease (it checks no permission for that),
        // so the session starts; the first lock is refused.
        let anonymous = try await BatonClient.connect(etcd.connectionString())
        defer { Task { await anonymous.close() } }
        let stranger = try await anonymous.session(ttl: .seconds(10))
        let refused = await expectBatonError(.authenticationFailed, within: Self.hang, "an anonymous lock") {
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
        await expectBatonError(.invalidArgument, within: Self.hang, "connect to https") {
            try await BatonClient.connect("etcd:https://127.0.0.1:2379")
        }
    }
}

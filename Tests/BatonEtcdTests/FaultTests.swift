import Baton
import BatonTestSupport
import Testing

/// Faults of a real etcd server under the recipes: frozen, and killed and restarted (for a killed
/// cluster member, see ``ClusterFaultTests``).
///
/// These tests wait in real time on purpose: what is under test is how Baton's keep-alives,
/// deadlines and reconnections behave against a real server's timing, which no simulated clock can
/// stand in for. So the sessions use the real clock (`BatonEnvironment()`'s default) and short TTLs
/// to keep the tests fast, and every wait is bounded: a stuck call fails the test instead of hanging
/// it.
@Suite(.enabled(if: EtcdServer.isEnabled), .serialized) struct FaultTests {
    /// The session TTL of these tests: a keep-alive every second.
    static let ttl: Duration = .seconds(3)
    static let interval: Duration = ttl / 3
    /// Slack for a busy machine on every bound that is not itself under test.
    static let slack: Duration = .seconds(5)

    /// A client of `etcd` with its own gateway, recording its sessions' events in `log`. Short
    /// timeouts: a call to a frozen server gives up after one second.
    private func client(_ connection: String, _ log: EventLog) async throws -> BatonClient {
        try await BatonClient.connect(
            connection + "?request-timeout=1s&dial-timeout=500ms", environment: BatonEnvironment(events: log.sink))
    }

    /// Expects `what` to have been learned (at `at`) within TTL + one keep-alive interval of the
    /// last renewal of `session`, plus `lateness`: how late this process woke a task at the moment
    /// the session's deadline passed (see ``wakeLateness(for:_:)``).
    private func expectLearnedInTime(
        _ what: String, _ at: ContinuousClock.Instant?, _ session: Session, _ log: EventLog, lateness: Duration,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let bound = session.ttl + session.ttl / 3
        guard let at, let renewed = log.lastRenewal(of: session.lease) else {
            Issue.record("\(what): no time recorded", sourceLocation: sourceLocation)
            return
        }
        let after = renewed.duration(to: at)
        #expect(
            after <= bound + lateness,
            "\(what) learned \(after.seconds) s after the last renewal (bound \(bound.seconds) s + \(lateness.seconds) s of scheduling delay)",
            sourceLocation: sourceLocation)
    }

    /// How late a task of this process wakes from a sleep until `session`'s last renewal + TTL —
    /// when its watchdog is due. Start it once no renewal can succeed any more.
    ///
    /// Other suites of the same test process (CPU-bound model tests) can keep the cooperative thread
    /// pool busy for a second or more; a delay that large is the process's, not Baton's, and the
    /// timing checks allow for it rather than fail on a busy run.
    private func wakeLateness(for session: Session, _ log: EventLog) -> Task<Duration, Never> {
        let due = (log.lastRenewal(of: session.lease) ?? .now) + session.ttl
        return Task {
            try? await Task.sleep(until: due)
            return max(.zero, due.duration(to: .now))
        }
    }

    /// The server's count of watchers: how a test knows that waiters are parked on their watches.
    static let watchers = "etcd_debugging_mvcc_watcher_total"

    // MARK: - A frozen server

    @Test func aFrozenServerLosesEveryHolderWithinTheTTL() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let log = EventLog()
        var clients: [BatonClient] = []
        for _ in 0..<4 { clients.append(try await client("etcd:\(etcd.clientURL)", log)) }
        defer { for client in clients { Task { await client.close() } } }
        var sessions: [Session] = []
        for client in clients { sessions.append(try await client.session(ttl: Self.ttl)) }
        let (lockSession, scopedSession, leaderSession, waiterSession) = (
            sessions[0], sessions[1], sessions[2], sessions[3]
        )

        // A plain grant, a withLock body, a leadership and a waiter queued behind the grant.
        let grant = try await lockSession.mutex("held").lock()
        let leadership = try await leaderSession.election("lead").campaign("leader")
        let bodyCancelled = Observed<ContinuousClock.Instant?>(nil)
        let entered = Observed(false)
        let scoped = Task {
            try await scopedSession.mutex("scoped").withLock { _ in
                entered.update { $0 = true }
                await parkUntilCancelled()
                bodyCancelled.update { $0 = .now }
                throw CancellationError()
            }
        }
        try await entered.wait(within: Self.slack, for: "the withLock body to start") { $0 }

        // When each learns of its loss.
        let learned = Observed<[String: ContinuousClock.Instant]>([:])
        let lockLost = Task {
            let error = try await grant.lost()
            learned.update { $0["grant"] = .now }
            return error
        }
        let leadershipLost = Task {
            let error = try await leadership.lost()
            learned.update { $0["leadership"] = .now }
            return error
        }
        // Each lost() watches its key, as does withLock: three watchers on the server.
        let watchers = Self.watchers
        #expect(await etcd.waitForMetric(watchers) { $0 == 3 } == 3)
        // The waiter is parked once it watches its predecessor and its own key: two more. (Frozen
        // before that, its lock() would fail with the timeout of the request it was making.)
        let waiter = Task { try await waiterSession.mutex("held").lock() }
        let waiterEnded = Task {
            let result = await Result { try await waiter.value }
            learned.update { $0["waiter"] = .now }
            return result
        }
        #expect(await etcd.waitForMetric(watchers) { $0 == 5 } == 5)
        #expect(try await keys(clients[0].backend, "held/").count == 2)

        etcd.pause()
        defer { etcd.resume() }
        let lateness = sessions.map { wakeLateness(for: $0, log) }
        let deadlineForAll = Self.ttl + Self.interval + Self.slack
        #expect(try await bounded(deadlineForAll, "grant.lost()") { try await lockLost.value }.code == .lockLost)
        #expect(
            try await bounded(deadlineForAll, "leadership.lost()") { try await leadershipLost.value }.code == .lockLost)
        for session in sessions {
            #expect(try await bounded(deadlineForAll, "session.ended()") { try await session.ended() } == .expired)
        }
        try await bodyCancelled.wait(within: deadlineForAll, for: "the withLock body's cancellation") { $0 != nil }
        let scopedResult = try await bounded(deadlineForAll, "withLock") { await Result { try await scoped.value } }
        let waiterResult = try await bounded(deadlineForAll, "the waiter's lock()") { await waiterEnded.value }

        // Each learned within TTL + one keep-alive interval of its session's last renewal.
        expectLearnedInTime("the grant", learned.value["grant"], lockSession, log, lateness: await lateness[0].value)
        expectLearnedInTime(
            "the withLock body", bodyCancelled.value, scopedSession, log, lateness: await lateness[1].value)
        expectLearnedInTime(
            "the leadership", learned.value["leadership"], leaderSession, log, lateness: await lateness[2].value)
        expectLearnedInTime(
            "the waiter", learned.value["waiter"], waiterSession, log, lateness: await lateness[3].value)

        // Nobody still believes it holds, and everyone was told why.
        #expect(!grant.isHeld && !leadership.isLeader)
        #expect(throws: BatonError.self) { try waiterResult.get() }
        if case .failure(let error as BatonError) = waiterResult { #expect(error.code == .sessionExpired, "\(error)") }
        guard case .failure(let error as BatonError) = scopedResult else {
            Issue.record("withLock: expected BatonError(.lockLost), got \(scopedResult)")
            return
        }
        #expect(error.code == .lockLost, "withLock threw \(error)")

        // Thawed, the server expires the leases and the names are free for a new session.
        etcd.resume()
        let fresh = try await client("etcd:\(etcd.clientURL)", log)
        defer { Task { await fresh.close() } }
        let next = try await bounded(Self.slack, "a new session") { try await fresh.session(ttl: Self.ttl) }
        let regained = try await bounded(Self.ttl + Self.slack, "lock after the thaw") {
            try await next.mutex("held").lock()
        }
        #expect(regained.fencingToken > grant.fencingToken)
        #expect(try await keys(fresh.backend, "held/") == [regained.key.description])
        try await regained.unlock()
    }

    // MARK: - A killed server, restarted on its data directory

    @Test func aServerKilledAndRestartedWithinTheTTLStrandsNoWaiter() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let log = EventLog()
        let ttl = Duration.seconds(5)  // longer than a restart (~2 s), so the sessions can recover
        let holderClient = try await client("etcd:\(etcd.clientURL)", log)
        let waiterClient = try await client("etcd:\(etcd.clientURL)", log)
        defer {
            Task {
                await holderClient.close(); await waiterClient.close()
            }
        }
        let holderSession = try await holderClient.session(ttl: ttl)
        let waiterSession = try await waiterClient.session(ttl: ttl)
        let grant = try await holderSession.mutex("k").lock()
        let waiter = Task { try await waiterSession.mutex("k").lock() }
        #expect(await etcd.waitForMetric(Self.watchers) { $0 == 2 } == 2)  // the waiter is parked

        await etcd.kill()
        try await etcd.restart()
        let restarted = ContinuousClock.now

        // Each session either renews through the restarted server (its lease survived: etcd keeps
        // leases across a restart) or reports its end; which one depends on how long the restart took.
        let holderRecovered = try await log.waitForRenewalOrEnd(
            of: holderSession.lease, after: restarted, within: ttl + Self.slack)
        let waiterRecovered = try await log.waitForRenewalOrEnd(
            of: waiterSession.lease, after: restarted, within: ttl + Self.slack)
        print(
            "restart: holder session \(holderRecovered ? "recovered" : "ended"), waiter session \(waiterRecovered ? "recovered" : "ended")"
        )
        if holderRecovered {
            #expect(holderSession.end == nil && grant.isHeld)
            #expect(try await holderClient.backend.leaseTimeToLive(holderSession.lease, keys: false).ttl > 0)
            _ = try await grant.txnIfHeld([.range(RangeRequest(.key(grant.key)))])  // still the same key generation
            try await grant.unlock()
        } else {
            #expect(holderSession.end == .expired && !grant.isHeld)
            #expect(try await bounded(Self.slack, "grant.lost()") { try await grant.lost() }.code == .lockLost)
        }

        // The waiter is not stuck: its lock() returns (once the holder unlocked, or its lease ran
        // out on the server) or throws because its own session ended.
        let outcome = try await bounded(ttl + Self.slack, "the waiter's lock()") {
            await Result { try await waiter.value }
        }
        switch outcome {
        case .success(let next):
            #expect(next.fencingToken > grant.fencingToken)
            #expect(next.isHeld == (waiterSession.end == nil))
            if waiterRecovered { try await next.unlock() }
        case .failure(let error as BatonError):
            #expect(!waiterRecovered || waiterSession.end != nil, "lock() failed with a live session: \(error)")
            #expect([.sessionExpired, .lockLost].contains(error.code), "\(error)")
        case .failure(let error):
            Issue.record("the waiter's lock() threw \(error)")
        }
    }

    @Test func aServerDownLongerThanTheTTLEndsEverySessionAndFreesTheNameAfterRestart() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let log = EventLog()
        let holderClient = try await client("etcd:\(etcd.clientURL)", log)
        let waiterClient = try await client("etcd:\(etcd.clientURL)", log)
        defer {
            Task {
                await holderClient.close(); await waiterClient.close()
            }
        }
        let holderSession = try await holderClient.session(ttl: Self.ttl)
        let waiterSession = try await waiterClient.session(ttl: Self.ttl)
        let grant = try await holderSession.mutex("k").lock()
        let waiter = Task { try await waiterSession.mutex("k").lock() }
        #expect(await etcd.waitForMetric(Self.watchers) { $0 == 2 } == 2)  // the waiter is parked

        await etcd.kill()
        let holderLateness = wakeLateness(for: holderSession, log),
            waiterLateness = wakeLateness(for: waiterSession, log)
        let lost = try await bounded(Self.ttl + Self.interval + Self.slack, "grant.lost()") { try await grant.lost() }
        expectLearnedInTime("the grant", .now, holderSession, log, lateness: await holderLateness.value)
        #expect(lost.code == .lockLost && !grant.isHeld && holderSession.end == .expired)
        let outcome = try await bounded(Self.ttl + Self.interval + Self.slack, "the waiter's lock()") {
            await Result { try await waiter.value }
        }
        expectLearnedInTime("the waiter", .now, waiterSession, log, lateness: await waiterLateness.value)
        #expect(throws: BatonError.self) { _ = try outcome.get() }
        if case .failure(let error as BatonError) = outcome { #expect(error.code == .sessionExpired, "\(error)") }

        // etcd restores the leases on restart with a full TTL again; nobody renews them any more, so
        // they run out and the name is free for a new session.
        try await etcd.restart()
        let fresh = try await client("etcd:\(etcd.clientURL)", log)
        defer { Task { await fresh.close() } }
        let session = try await bounded(Self.slack, "a new session") { try await fresh.session(ttl: Self.ttl) }
        let regained = try await bounded(Self.ttl + Self.slack, "lock after the restart") {
            try await session.mutex("k").lock()
        }
        #expect(regained.fencingToken > grant.fencingToken)
        #expect(try await keys(fresh.backend, "k/") == [regained.key.description])
        try await regained.unlock()
    }
}

/// Suspends until the calling task is cancelled.
func parkUntilCancelled() async {
    let (stream, continuation) = AsyncStream<Never>.makeStream()
    for await _ in stream {}
    continuation.finish()  // keeps the continuation (and so the stream) alive until here
}

extension Result where Failure == any Error {
    /// The result of an async throwing call.
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

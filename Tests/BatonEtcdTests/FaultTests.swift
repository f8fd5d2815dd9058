import Baton
import BatonEtcd
import BatonTestSupport
import Testing

/// Faults of a real etcd under the recipes: a frozen server, a killed and restarted one, a killed
/// cluster member.
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
        let (lockSession, scopedSession, leaderSession, waiterSession) = (sessions[0], sessions[1], sessions[2], sessions[3])

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
        #expect(try await bounded(deadlineForAll, "leadership.lost()") { try await leadershipLost.value }.code == .lockLost)
        for session in sessions {
            #expect(try await bounded(deadlineForAll, "session.ended()") { try await session.ended() } == .expired)
        }
        try await bodyCancelled.wait(within: deadlineForAll, for: "the withLock body's cancellation") { $0 != nil }
        let scopedResult = try await bounded(deadlineForAll, "withLock") { await Result { try await scoped.value } }
        let waiterResult = try await bounded(deadlineForAll, "the waiter's lock()") { await waiterEnded.value }

        // Each learned within TTL + one keep-alive interval of its session's last renewal.
        expectLearnedInTime("the grant", learned.value["grant"], lockSession, log, lateness: await lateness[0].value)
        expectLearnedInTime("the withLock body", bodyCancelled.value, scopedSession, log, lateness: await lateness[1].value)
        expectLearnedInTime(
            "the leadership", learned.value["leadership"], leaderSession, log, lateness: await lateness[2].value)
        expectLearnedInTime("the waiter", learned.value["waiter"], waiterSession, log, lateness: await lateness[3].value)

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
        defer { Task { await holderClient.close(); await waiterClient.close() } }
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
        let holderRecovered = try await log.waitForRenewalOrEnd(of: holderSession.lease, after: restarted, within: ttl + Self.slack)
        let waiterRecovered = try await log.waitForRenewalOrEnd(of: waiterSession.lease, after: restarted, within: ttl + Self.slack)
        print("restart: holder session \(holderRecovered ? "recovered" : "ended"), waiter session \(waiterRecovered ? "recovered" : "ended")")
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
        let outcome = try await bounded(ttl + Self.slack, "the waiter's lock()") { await Result { try await waiter.value } }
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
        defer { Task { await holderClient.close(); await waiterClient.close() } }
        let holderSession = try await holderClient.session(ttl: Self.ttl)
        let waiterSession = try await waiterClient.session(ttl: Self.ttl)
        let grant = try await holderSession.mutex("k").lock()
        let waiter = Task { try await waiterSession.mutex("k").lock() }
        #expect(await etcd.waitForMetric(Self.watchers) { $0 == 2 } == 2)  // the waiter is parked

        await etcd.kill()
        let holderLateness = wakeLateness(for: holderSession, log), waiterLateness = wakeLateness(for: waiterSession, log)
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
        let regained = try await bounded(Self.ttl + Self.slack, "lock after the restart") { try await session.mutex("k").lock() }
        #expect(regained.fencingToken > grant.fencingToken)
        #expect(try await keys(fresh.backend, "k/") == [regained.key.description])
        try await regained.unlock()
    }

    // MARK: - A cluster member killed

    @Test(arguments: ["follower", "leader"])
    func locksKeepWorkingWhenAClusterMemberIsKilled(_ victimRole: String) async throws {
        let cluster = try await EtcdCluster.start()
        defer { cluster.destroy() }
        let leader = try #require(await cluster.leader())
        let victim = victimRole == "leader" ? leader : try #require(cluster.members.first { $0 !== leader })
        // The member that dies is every client's first endpoint, the one in use.
        let endpoints = [victim.clientURL] + cluster.members.filter { $0 !== victim }.map(\.clientURL)
        let connection = "etcd:" + endpoints.joined(separator: ",")
        let log = EventLog()
        // A production-like TTL: a keep-alive sent during the leader election waits for the new
        // leader, and the session must outlive that wait.
        let ttl = Duration.seconds(10)
        let options = "?dial-timeout=500ms"
        let a = try await BatonClient.connect(connection + options, environment: BatonEnvironment(events: log.sink))
        let b = try await BatonClient.connect(connection + options, environment: BatonEnvironment(events: log.sink))
        defer { Task { await a.close(); await b.close() } }
        let sessionA = try await a.session(ttl: ttl), sessionB = try await b.session(ttl: ttl)
        let grant = try await sessionA.mutex("c").lock()
        let waiter = Task { try await sessionB.mutex("c").lock() }
        try await waitForKeys(a.backend, "c/", count: 2)
        // The waiter is parked on its two watches (of its predecessor and its own key), which go to
        // the first endpoint. (Killed before that, its waiter-key transaction could be cut off after
        // etcd applied it: lock() then fails and leaves the key behind — a known issue.)
        #expect(await victim.waitForMetric(Self.watchers) { $0 == 2 } == 2)
        await victim.kill()
        let killed = ContinuousClock.now
        if victim === leader {
            // A write sent before the others notice the leader is gone is dropped and times out
            // (etcd answers "request timed out, possibly due to previous leader failure" after 7 s;
            // see anUnlockLostToALeaderFailureStrandsTheLockUntilTheSessionEnds). Wait for the new leader (~1.3 s), as a client
            // retrying would.
            try await bounded(Self.slack, "a new leader") {
                while await cluster.leader() == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
        }
        // The holder's fenced write and its unlock go through the other members; the waiter gets in.
        _ = try await grant.txnIfHeld([.put(PutRequest(key: "resource", value: Array("a".utf8)))])
        try await grant.unlock()
        let next = try await bounded(Self.slack, "the waiter's lock()") { try await waiter.value }
        #expect(next.fencingToken > grant.fencingToken)
        try await next.unlock()
        try await bounded(Self.slack, "ten more lock+unlock cycles") {
            for cycle in 0..<10 {
                let grant = try await (cycle % 2 == 0 ? sessionA : sessionB).mutex("c").lock()
                try await grant.unlock()
            }
        }
        // Both sessions keep renewing their leases through the remaining members.
        try await log.waitForRenewal(of: sessionA.lease, after: killed, within: ttl)
        try await log.waitForRenewal(of: sessionB.lease, after: killed, within: ttl)
        #expect(sessionA.end == nil && sessionB.end == nil)
        #expect(try await keys(a.backend, "c/").isEmpty)
    }

    @Test func aReadDuringALeaderElectionWaitsForTheNewLeader() async throws {
        let cluster = try await EtcdCluster.start()
        defer { cluster.destroy() }
        let leader = try #require(await cluster.leader())
        let follower = try #require(cluster.members.first { $0 !== leader })
        let gateway = try EtcdGateway(configuration: EtcdConfiguration(endpoints: [follower.clientURL]))
        defer { gateway.closeSoon() }
        _ = try await gateway.put(PutRequest(key: "r", value: Array("1".utf8)))
        await leader.kill()
        // The follower cannot confirm a linearizable read until a new leader is elected (~1.3 s);
        // then etcd answers the pending read "leader changed" (HTTP 503), and the gateway asks again.
        let read = try await bounded(Self.slack, "a read during the election") {
            try await gateway.range(RangeRequest(.key("r")))
        }
        #expect(read.kvs.first?.valueString == "1")
    }

    /// A known issue of the recipe, kept here as evidence (see the etcd2 report): an unlock whose
    /// outcome the client cannot know still consumes the grant. Here it is sent just after the
    /// leader died; the member it reaches forwards it to the dead leader, etcd drops it, and the
    /// request times out. The key stays, on a session that goes on renewing, so the next waiter is
    /// stuck until that session ends — and `unlock()` cannot be retried: it says `lockReleased`.
    @Test func anUnlockLostToALeaderFailureStrandsTheLockUntilTheSessionEnds() async throws {
        let cluster = try await EtcdCluster.start()
        defer { cluster.destroy() }
        let leader = try #require(await cluster.leader())
        let endpoints = [leader.clientURL] + cluster.members.filter { $0 !== leader }.map(\.clientURL)
        let connection = "etcd:" + endpoints.joined(separator: ",") + "?dial-timeout=500ms&request-timeout=3s"
        let a = try await BatonClient.connect(connection), b = try await BatonClient.connect(connection)
        defer { Task { await a.close(); await b.close() } }
        let sessionA = try await a.session(ttl: .seconds(10)), sessionB = try await b.session(ttl: .seconds(10))
        let grant = try await sessionA.mutex("u").lock()
        let waiter = Task { try await sessionB.mutex("u").lock() }
        #expect(await leader.waitForMetric(Self.watchers) { $0 == 2 } == 2)  // the waiter is parked

        await leader.kill()
        await withKnownIssue("an unlock that times out consumes the grant but leaves the key") {
            try await grant.unlock()
        }
        try await bounded(Self.slack, "a new leader") {
            while await cluster.leader() == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let stranded = try await keys(a.backend, "u/").contains(grant.key.description)
        withKnownIssue("the unlocked grant's key stays, with a live lease") { #expect(!stranded) }
        if stranded {
            // Nobody holds the lock, yet its key lives on with a live lease.
            #expect(!grant.isHeld && sessionA.end == nil)
            #expect(try await a.backend.leaseTimeToLive(sessionA.lease, keys: false).ttl > 0)
            await expectBatonError(.lockReleased, within: Self.slack, "unlock again") { try await grant.unlock() }
            // The only way out today: end the session (its lease and key go with it).
            try await sessionA.close()
        }
        let next = try await bounded(Self.slack, "the waiter's lock()") { try await waiter.value }
        #expect(next.fencingToken > grant.fencingToken)
        try await next.unlock()
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

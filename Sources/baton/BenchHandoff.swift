import Baton
import Synchronization

/// Handoff latency: from the moment a holder calls `unlock()` to the first instruction the next
/// waiter runs after its `lock()` returns, with `waiters` queued (one session per waiter).
///
/// Each round queues every waiter behind a holder, waits until all of them are queued and the process
/// has gone quiet (every waiter has set up its watches), then releases the holder; the waiters hand the
/// lock on one by one and the first `perRound` handoffs are timed, while at least 90% of the queue is
/// still waiting. Rounds repeat until `samples` handoffs are timed, and there are at least three of
/// them: each round builds its queue afresh, so no one queue's layout in memory decides the figure.
struct HandoffBench {
    let waiters: Int
    let samples: Int

    /// Handoffs timed per round: the first tenth of the queue (at least 10), and at most a third of
    /// `samples` (rounded up), so that they span at least three rounds.
    var perRound: Int { min(waiters, max(10, waiters / 10), (samples + 2) / 3) }
    var rounds: Int { (samples + perRound - 1) / perRound }

    /// Baton's handoffs on one `LocalStore`. - Returns: the latencies (ns), the time it took to create
    /// the sessions, and the time it took to queue the first round's waiters (until all are quiet).
    func baton() async throws -> (latencies: [Double], sessions: Duration, queue: Duration) {
        let waiting = WaitingCounter()
        let environment = BatonEnvironment(events: waiting.sink)
        let client = BatonClient(backend: LocalStore(environment: environment), environment: environment)
        let log = HandoffLog()
        var queueSetup = Duration.zero
        let holder = try await client.session().mutex("handoff")
        let (mutexes, sessionTime) = try await benchTimed {
            var mutexes: [DistributedMutex] = []
            mutexes.reserveCapacity(waiters)
            for _ in 0..<waiters { mutexes.append(try await client.session().mutex("handoff")) }
            return mutexes
        }
        for round in 0..<rounds {
            let grant = try await holder.lock()
            waiting.reset()
            try await withThrowingTaskGroup(of: Void.self) { group in
                let (_, queueTime) = try await benchTimed {
                    for mutex in mutexes {
                        group.addTask {
                            let grant = try await mutex.lock()
                            log.granted(at: ContinuousClock().now)
                            log.unlocking()
                            try await grant.unlock()
                        }
                    }
                    while waiting.count < waiters { try await Task.sleep(for: .milliseconds(1)) }
                    await BenchProcess.waitUntilIdle()
                }
                if round == 0 { queueSetup = queueTime }
                log.begin(limit: perRound)
                log.unlocking()
                try await grant.unlock()
                try await group.waitForAll()
            }
        }
        await client.close()
        return (log.latencies, sessionTime, queueSetup)
    }

    /// The floor's handoffs: the same rounds on a ``FloorMutex``. - Returns: the latencies (ns).
    func floor() async throws -> [Double] {
        let mutex = FloorMutex(), log = HandoffLog()
        for _ in 0..<rounds {
            try await mutex.lock()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<waiters {
                    group.addTask {
                        try await mutex.lock()
                        log.granted(at: ContinuousClock().now)
                        log.unlocking()
                        await mutex.unlock()
                    }
                }
                while await mutex.waiting < waiters { try await Task.sleep(for: .milliseconds(1)) }
                await BenchProcess.waitUntilIdle()
                log.begin(limit: perRound)
                log.unlocking()
                await mutex.unlock()
                try await group.waitForAll()
            }
        }
        return log.latencies
    }
}

/// The handoff clock: the last unlock's instant and the latencies of the handoffs being timed.
final class HandoffLog: Sendable {
    private struct State {
        var unlockedAt: ContinuousClock.Instant?
        var granted = 0
        var limit = 0
        var latencies: [Double] = []
    }
    private let state = Mutex(State())

    /// Starts timing the next `limit` handoffs.
    func begin(limit: Int) {
        state.withLock { state in
            state.granted = 0
            state.limit = limit
            state.unlockedAt = nil
        }
    }

    /// Called by a holder just before it calls `unlock()`.
    func unlocking() {
        let now = ContinuousClock().now
        state.withLock { $0.unlockedAt = now }
    }

    /// Called by a new holder as soon as its `lock()` returned, with the instant it read first.
    func granted(at instant: ContinuousClock.Instant) {
        state.withLock { state in
            state.granted += 1
            if state.granted <= state.limit, let unlockedAt = state.unlockedAt {
                state.latencies.append(unlockedAt.duration(to: instant).benchNanoseconds)
            }
            state.unlockedAt = nil
        }
    }

    var latencies: [Double] { state.withLock { $0.latencies } }
}

/// Counts `lockWaiting` events: how many waiters have their key in the queue.
final class WaitingCounter: Sendable {
    private let value = Atomic(0)
    var count: Int { value.load(ordering: .relaxed) }
    func reset() { value.store(0, ordering: .relaxed) }

    /// An event sink that counts waiters and drops everything else.
    var sink: EventSink {
        EventSink { [self] event in
            if case .lockWaiting = event { value.wrappingAdd(1, ordering: .relaxed) }
        }
    }
}

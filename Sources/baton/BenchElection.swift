import Baton
import Synchronization

/// Election handoff latency: from the moment the leader calls `resign()` to (a) an observer's
/// `observe()` stream reporting the next leader, and (b) the next candidate's `campaign()` returning.
///
/// Two candidates take turns: while one leads, the other campaigns; once the process is quiet (the
/// challenger's key is in and its watches are set), the leader resigns and both instants are taken.
struct ElectionBench {
    let samples: Int

    func run() async throws -> (observed: [Double], campaigned: [Double]) {
        let client = try await BatonClient.connect("local:")
        let candidates = [try await client.session().election("bench"), try await client.session().election("bench")]
        let observer = try await client.session().election("bench")
        let seen = LeaderSightings()
        let watch = Task {
            for try await event in observer.observe() {
                if case .leader(let kv) = event { seen.record(term: kv.createRevision, at: ContinuousClock().now) }
            }
        }
        var leader = try await candidates[0].campaign("0")
        _ = await seen.wait(term: leader.term)
        var observed: [Double] = [], campaigned: [Double] = []
        for sample in 0..<samples {
            let challenger = candidates[(sample + 1) % 2]
            let pending = Task {
                let leadership = try await challenger.campaign("\(sample + 1)")
                return (leadership, ContinuousClock().now)
            }
            await BenchProcess.waitUntilIdle()
            let resignedAt = ContinuousClock().now
            try await leader.resign()
            let (next, wonAt) = try await pending.value
            let observedAt = await seen.wait(term: next.term)
            observed.append(resignedAt.duration(to: observedAt).benchNanoseconds)
            campaigned.append(resignedAt.duration(to: wonAt).benchNanoseconds)
            leader = next
        }
        watch.cancel()
        try await leader.resign()
        await client.close()
        return (observed, campaigned)
    }
}

/// When the observer saw each term lead, and a way to wait for a term.
final class LeaderSightings: Sendable {
    private struct State {
        var seen: [Int64: ContinuousClock.Instant] = [:]
        var waiter: (term: Int64, continuation: CheckedContinuation<ContinuousClock.Instant, Never>)?
    }
    private let state = Mutex(State())

    func record(term: Int64, at instant: ContinuousClock.Instant) {
        let waiter = state.withLock { state -> CheckedContinuation<ContinuousClock.Instant, Never>? in
            state.seen[term] = state.seen[term] ?? instant
            guard let waiter = state.waiter, waiter.term == term else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(returning: instant)
    }

    /// The instant `term` was first seen leading, waiting for it if it has not been yet.
    func wait(term: Int64) async -> ContinuousClock.Instant {
        await withCheckedContinuation { continuation in
            let seen = state.withLock { state -> ContinuousClock.Instant? in
                if let instant = state.seen[term] { return instant }
                state.waiter = (term, continuation)
                return nil
            }
            if let seen { continuation.resume(returning: seen) }
        }
    }
}

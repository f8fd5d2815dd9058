import Synchronization

/// A clock that moves only when a test calls ``advance(by:)``: sleepers whose deadline has come are
/// resumed, in deadline order. Lets tests drive lease expiry and timeouts without real sleeps.
final class ManualClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct Sleeper {
        let deadline: Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [Int: Sleeper] = [:]
        var nextID = 0
        var watchers: [(count: Int, window: Duration?, continuation: CheckedContinuation<Void, Never>)] = []

        /// How many sleepers are due within `window` from now (all of them for `nil`).
        func sleepers(within window: Duration?) -> Int {
            guard let window else { return sleepers.count }
            let limit = now.advanced(by: window)
            return sleepers.values.count { $0.deadline <= limit }
        }

        /// The watchers whose awaited sleeper count is reached, removed from the list.
        mutating func satisfiedWatchers() -> [CheckedContinuation<Void, Never>] {
            var ready: [CheckedContinuation<Void, Never>] = []
            var waiting: [(count: Int, window: Duration?, continuation: CheckedContinuation<Void, Never>)] = []
            for watcher in watchers {
                if watcher.count <= sleepers(within: watcher.window) {
                    ready.append(watcher.continuation)
                } else {
                    waiting.append(watcher)
                }
            }
            watchers = waiting
            return ready
        }
    }

    private let state = Mutex(State())

    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .nanoseconds(1) }

    /// How many tasks are sleeping on this clock.
    var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (ready, watchers) = state.withLock {
                    state -> (Result<Void, any Error>?, [CheckedContinuation<Void, Never>]) in
                    if Task.isCancelled { return (.failure(CancellationError()), []) }
                    if deadline <= state.now { return (.success(()), []) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return (nil, state.satisfiedWatchers())
                }
                if let ready { continuation.resume(with: ready) }
                for watcher in watchers { watcher.resume() }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Waits (on registrations, not time) until at least `count` tasks are sleeping on this clock, due
    /// within `window` from now when one is given.
    func waitForSleepers(_ count: Int, within window: Duration? = nil) async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Bool in
                if state.sleepers(within: window) >= count { return true }
                state.watchers.append((count, window, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }.sorted {
                $0.value.deadline == $1.value.deadline ? $0.key < $1.key : $0.value.deadline < $1.value.deadline
            }
            for (id, _) in due { state.sleepers[id] = nil }
            return due.map(\.value)
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}

import Synchronization

/// A value that tasks can wait on, with a deadline: updated from any thread (a process's output, an
/// event sink), awaited until a condition holds.
///
/// Waiting is event-driven — each update wakes the waiters to re-check — and always bounded.
public final class Observed<Value: Sendable>: Sendable {
    private struct State {
        var value: Value
        /// Bumped on every update, so a waiter never misses one that came as it registered.
        var version = 0
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }
    private let state: Mutex<State>

    /// Creates the value.
    public init(_ value: Value) { state = Mutex(State(value: value)) }

    /// The value now.
    public var value: Value { state.withLock { $0.value } }

    /// Changes the value and wakes every waiter.
    public func update(_ change: (inout Value) -> Void) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            change(&state.value)
            state.version += 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until `check` returns non-nil and returns that.
    ///
    /// - Throws: ``HarnessError`` naming `what` when `timeout` passes first.
    public func wait<T: Sendable>(
        within timeout: Duration, for what: @autoclosure () -> String, until check: (Value) -> T?
    ) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (result, version) = state.withLock { (check($0.value), $0.version) }
            if let result { return result }
            guard ContinuousClock.now < deadline else { throw HarnessError("no \(what()) within \(timeout)") }
            await change(after: version, orDeadline: deadline)
        }
    }

    /// Waits until `condition` holds. - Throws: ``HarnessError`` when `timeout` passes first.
    public func wait(
        within timeout: Duration, for what: @autoclosure () -> String, until condition: (Value) -> Bool
    ) async throws {
        try await wait(within: timeout, for: what()) { condition($0) ? () : nil }
    }

    /// Returns once the value has moved past `version` or `deadline` has passed.
    private func change(after version: Int, orDeadline deadline: ContinuousClock.Instant) async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timer = Task {
            try? await Task.sleep(until: deadline)
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                // An update or the deadline that came before this point found no waiter to resume.
                guard state.version == version, ContinuousClock.now < deadline else { return true }
                state.waiters[id] = continuation
                return false
            }
            if now { continuation.resume() }
        }
        timer.cancel()
    }
}

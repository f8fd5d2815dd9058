import Synchronization

/// A result that arrives once, from any thread, awaited by one task.
///
/// Where callbacks (a session ending, the first of several racing tasks) meet the async world. The
/// first ``resolve(_:)`` wins and later ones are ignored, so a reply, a timeout and a cancellation can
/// race without resuming a continuation twice.
package final class OneShot<Value: Sendable>: Sendable {
    private enum State {
        case pending(CheckedContinuation<Value, any Error>?)
        case resolved(Result<Value, any Error>)
    }

    private let state = Mutex<State>(.pending(nil))

    package init() {}

    /// Delivers the result; does nothing when one was already delivered. Returns whether it won.
    @discardableResult
    package func resolve(_ result: Result<Value, any Error>) -> Bool {
        let waiter: CheckedContinuation<Value, any Error>?? = state.withLock { state in
            guard case .pending(let waiter) = state else { return nil }
            state = .resolved(result)
            return .some(waiter)
        }
        guard let waiter else { return false }
        waiter?.resume(with: result)
        return true
    }

    /// Waits for the result.
    ///
    /// - Throws: the delivered error, or `CancellationError` when the waiting task is cancelled first
    ///   (which also resolves this one-shot with that error).
    package func value() async throws -> Value {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                let ready: Result<Value, any Error>? = state.withLock { state in
                    switch state {
                    case .resolved(let result):
                        return result
                    case .pending:
                        state = .pending(continuation)
                        return nil
                    }
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            resolve(.failure(CancellationError()))
        }
    }
}

/// Sleeps on the clock the gateway was given, so timeouts and back-off follow an injected clock.
struct Sleeper: Sendable {
    private let sleepFor: @Sendable (Duration) async throws -> Void

    init(_ clock: any Clock<Duration>) { sleepFor = Sleeper.make(clock) }

    private static func make<C: Clock<Duration>>(_ clock: C) -> @Sendable (Duration) async throws -> Void {
        { duration in try await clock.sleep(for: duration) }
    }

    /// Suspends for `duration`. - Throws: `CancellationError` when cancelled.
    func sleep(for duration: Duration) async throws { try await sleepFor(duration) }
}

import Synchronization

/// A sleeping task's continuation, resumed by its timer or by cancellation, whichever comes first.
///
/// Cancellation may arrive before the continuation is installed (the task was already cancelled);
/// that is remembered and the install resumes at once.
final class SleepTimer: TimerTarget, Sendable {
    private enum State {
        case idle
        case waiting(UnsafeContinuation<Void, any Error>)
        case cancelledEarly
        case done
    }
    private let state = Mutex<State>(.idle)

    /// Installs the continuation; false (after resuming it with `CancellationError`) if already cancelled.
    func install(_ continuation: UnsafeContinuation<Void, any Error>) -> Bool {
        let cancelled = state.withLock { state -> Bool in
            if case .cancelledEarly = state {
                state = .done
                return true
            }
            state = .waiting(continuation)
            return false
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    var isLive: Bool {
        state.withLock { if case .waiting = $0 { return true } else { return false } }
    }

    func fire() { take()?.resume() }

    func cancel() {
        let continuation = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
            switch state {
            case .idle:
                state = .cancelledEarly
                return nil
            case .waiting(let continuation):
                state = .done
                return continuation
            case .cancelledEarly, .done:
                return nil
            }
        }
        continuation?.resume(throwing: CancellationError())
    }

    private func take() -> UnsafeContinuation<Void, any Error>? {
        state.withLock { state in
            guard case .waiting(let continuation) = state else { return nil }
            state = .done
            return continuation
        }
    }
}

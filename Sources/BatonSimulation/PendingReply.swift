import Synchronization

/// The caller's side of one simulated request: a continuation resumed by whichever comes first — the
/// reply, the request timeout, a broken connection, or the caller's cancellation.
///
/// Cancellation may arrive before the continuation is installed; it is remembered and the install
/// resumes at once (the request is then never sent).
final class PendingReply<Value: Sendable>: TimerTarget, Sendable {
    private enum State {
        case idle
        case waiting(UnsafeContinuation<Value, any Error>)
        case resolvedEarly(Result<Value, any Error>)
        case done
    }
    private let state = Mutex<State>(.idle)
    /// The error a firing timeout timer resolves with.
    let timeoutError: BatonErrorBox

    init(timeoutError: BatonErrorBox) { self.timeoutError = timeoutError }

    /// Installs the continuation; false (after resuming it) if the call was already resolved.
    func install(_ continuation: UnsafeContinuation<Value, any Error>) -> Bool {
        let early = state.withLock { state -> Result<Value, any Error>? in
            if case .resolvedEarly(let result) = state {
                state = .done
                return result
            }
            state = .waiting(continuation)
            return nil
        }
        guard let early else { return true }
        continuation.resume(with: early)
        return false
    }

    /// Whether the caller still waits.
    var isLive: Bool {
        state.withLock { if case .waiting = $0 { return true } else { return false } }
    }

    /// Resumes the caller with `result` if nothing resolved it before. Returns whether it did.
    @discardableResult
    func resolve(_ result: Result<Value, any Error>) -> Bool {
        let continuation = state.withLock { state -> UnsafeContinuation<Value, any Error>? in
            switch state {
            case .idle:
                state = .resolvedEarly(result)
                return nil
            case .waiting(let continuation):
                state = .done
                return continuation
            case .resolvedEarly, .done:
                return nil
            }
        }
        continuation?.resume(with: result)
        return continuation != nil
    }

    /// The request timeout fired.
    func fire() { resolve(.failure(timeoutError.error)) }
}

/// An error stored for later use by a timer (keeps `PendingReply` free of existential captures).
struct BatonErrorBox: Sendable {
    let error: any Error & Sendable
}

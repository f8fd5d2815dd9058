import Synchronization

/// Request deadlines, kept by one task per transport rather than one per request.
///
/// Every few ticks of the transport's clock the task closes the connection of each exchange whose
/// deadline has passed, which fails the exchange's read with its timeout. A task per request, sleeping
/// until its deadline and cancelled when the reply came, cost about four context switches and a timer
/// per request; against etcd on loopback that was half of all the switches a request made. The price is
/// precision: an exchange times out up to one tick late (a tenth of the shortest timeout, at most
/// 250 ms). The task runs while exchanges are in flight and for as long as the longest timeout after
/// the last one, so a steady stream of requests never starts it again.
final class Deadlines: Sendable {
    private struct Armed {
        let connection: SocketConnection
        let deadline: Duration
        let failure: TransportFailure
    }

    private struct State {
        var armed: [UInt64: Armed] = [:]
        var lastToken: UInt64 = 0
        var sweeper: Task<Void, Never>?
        var closed = false
    }

    private let state = Mutex(State())
    private let sleeper: Sleeper
    /// The time on the transport's clock since this was created.
    private let now: @Sendable () -> Duration
    private let tick: Duration
    private let linger: Duration
    private let taskExecutor: (any TaskExecutor)?

    /// - Parameters:
    ///   - shortest: the shortest timeout that will be armed; a tick is a tenth of it.
    ///   - longest: the longest; the sweeper stays this long after the last exchange.
    init(
        clock: any Clock<Duration>, shortest: Duration, longest: Duration, taskExecutor: (any TaskExecutor)?
    ) {
        self.sleeper = Sleeper(clock)
        self.now = Self.elapsed(on: clock)
        self.tick = min(max(shortest / 10, .milliseconds(5)), .milliseconds(250))
        self.linger = longest
        self.taskExecutor = taskExecutor
    }

    private static func elapsed<C: Clock<Duration>>(on clock: C) -> @Sendable () -> Duration {
        let origin = clock.now
        return { origin.duration(to: clock.now) }
    }

    /// Closes `connection` with `failure` once `timeout` has passed, unless ``disarm(_:)`` comes
    /// first. - Returns: the token to disarm it with.
    func arm(_ connection: SocketConnection, timeout: Duration, failure: TransportFailure) -> UInt64 {
        let armed = Armed(connection: connection, deadline: now() + timeout, failure: failure)
        return state.withLock { state in
            state.lastToken += 1
            state.armed[state.lastToken] = armed
            if state.sweeper == nil && !state.closed {
                state.sweeper = Task(executorPreference: taskExecutor) { [self] in await sweep() }
            }
            return state.lastToken
        }
    }

    func disarm(_ token: UInt64) {
        _ = state.withLock { $0.armed.removeValue(forKey: token) }
    }

    /// Stops the sweeper; armed deadlines no longer fire (the transport closes every connection itself).
    func close() {
        let (sweeper, dropped) = state.withLock { state in
            state.closed = true
            defer { (state.sweeper, state.armed) = (nil, [:]) }
            return (state.sweeper, state.armed)
        }
        sweeper?.cancel()
        _ = dropped  // released here, after the lock: a connection it held last goes, taking the poller's lock
    }

    private func sweep() async {
        var idleSince: Duration?
        while true {
            do {
                try await sleeper.sleep(for: tick)
            } catch {
                return  // cancelled by close()
            }
            let now = now()
            let (expired, stop) = state.withLock { state -> ([Armed], Bool) in
                if state.closed { return ([], true) }
                let expired = state.armed.filter { $0.value.deadline <= now }
                for token in expired.keys { state.armed.removeValue(forKey: token) }
                if !state.armed.isEmpty {
                    idleSince = nil
                } else if let since = idleSince, now - since >= linger {
                    state.sweeper = nil  // the next arm starts another
                    return (Array(expired.values), true)
                } else if idleSince == nil {
                    idleSince = now
                }
                return (Array(expired.values), false)
            }
            for armed in expired { armed.connection.close(armed.failure) }
            if stop { return }
        }
    }
}

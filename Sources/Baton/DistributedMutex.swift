import BatonCore

/// A mutex shared by every session that names it, in this process or any other using the same store:
/// etcd's `concurrency.Mutex`, with fencing tokens, one grant per holder and lost-lock cancellation.
///
/// Waiters queue in create-revision order (FIFO) and each watches only its immediate predecessor, so
/// an unlock wakes one waiter, not all. Two tasks sharing a session exclude each other like any two
/// holders. Keys are `<name>/<lease hex>` as `etcdctl lock <name>` writes them, or `<name>/<lease hex>-<n>`
/// once an unlock of the session went unanswered, so that its delete, landing late, takes no later key.
public struct DistributedMutex: Sendable {
    /// The session the lock is taken through.
    public let session: Session
    let turns: Turns
    var recipe: RecipeName { turns.name }

    init(session: Session, turns: Turns) {
        self.session = session
        self.turns = turns
    }

    /// The lock's name.
    public var name: String { recipe.name }

    /// Waits until the lock is held and returns the grant.
    ///
    /// Waits for every earlier waiter to leave. When cancelled, or on any error, the waiter key is
    /// deleted before this returns, so no stale entry blocks others. If the session ends while
    /// waiting, throws at once.
    /// - Throws: `CancellationError`; `sessionExpired` / `alreadyClosed` when the session ends;
    ///   `lockLost` when the waiter key vanished while waiting; backend errors.
    public nonisolated(nonsending) func lock() async throws -> LockGrant {
        try await acquire(wait: true)
    }

    /// Like ``lock()``, but gives up after `timeout` on the session's clock. A zero timeout takes the
    /// lock only if it is free, as ``tryLock()`` does, and throws `timeout` otherwise.
    /// - Throws: `timeout` when the lock was not acquired in time (the waiter key is removed);
    ///   `invalidArgument` for a negative timeout; everything ``lock()`` throws.
    public func lock(timeout: Duration) async throws -> LockGrant {
        guard timeout >= .zero else {
            throw BatonError(.invalidArgument, "lock \(name): the timeout must not be negative, got \(timeout)")
        }
        if timeout == .zero {
            do {
                return try await tryLock()
            } catch let error as BatonError where error.code == .locked {
                throw BatonError(.timeout, "lock \(name) is held, and the timeout was zero", cause: error)
            }
        }
        let environment = session.environment
        let deadline = environment.now() + timeout
        return try await withThrowingTaskGroup(of: LockGrant?.self) { group in
            group.addTask { try await self.lock() }
            group.addTask {
                try await environment.sleep(until: deadline)
                return nil
            }
            defer { group.cancelAll() }
            if let grant = try await group.next()! { return grant }
            // Time is up: stop waiting. The lock may still have won the race; keep it if so.
            group.cancelAll()
            if let grant = try? await group.next() ?? nil { return grant }
            throw BatonError(.timeout, "lock \(name) not acquired within \(timeout)")
        }
    }

    /// Takes the lock only if nobody holds it.
    /// - Throws: `locked` when another holder (another session, or another task of this one) has it;
    ///   `sessionExpired` / `alreadyClosed`; backend errors.
    public nonisolated(nonsending) func tryLock() async throws -> LockGrant {
        try await acquire(wait: false)
    }

    /// Tries to take the lock up to `attempts` times, waiting `backoff`, then 2 × `backoff`, … between
    /// attempts (distlock's linear backoff), on the session's clock.
    /// - Throws: `locked` when every attempt found the lock held; `invalidArgument` for fewer than one
    ///   attempt or a negative backoff; `CancellationError`; everything ``tryLock()`` throws.
    public func tryLock(attempts: Int, backoff: Duration) async throws -> LockGrant {
        guard attempts >= 1, backoff >= .zero else {
            throw BatonError(.invalidArgument, "tryLock needs at least one attempt and a non-negative backoff")
        }
        for attempt in 1... {
            do {
                return try await tryLock()
            } catch let error as BatonError where error.code == .locked && attempt < attempts {
                try await session.environment.sleep(for: backoff * attempt)
            }
        }
        preconditionFailure("unreachable: the loop returns or throws on its last attempt")
    }

    /// Runs `body` while holding the lock, then unlocks.
    ///
    /// If the lock is lost while `body` runs (the session expired, the key was deleted), `body` is
    /// cancelled and, once it returns, this throws `lockLost`. Waiting for the lock is as
    /// ``lock()``.
    ///
    /// - Parameters:
    ///   - maxHeld: the longest `body` may hold the lock (elock's maximum held time). When it is
    ///     exceeded, `body` is cancelled — the holder is told, unlike a monitor that deletes the key
    ///     behind its back — the lock is released and this throws `timeout`.
    ///   - linger: after `body` returns, keep holding the lock for a random duration in this range,
    ///     drawn from the session's random source (elock's random sleep after acquiring), so that very
    ///     short jobs on many machines do not run back to back.
    /// - Throws: `lockLost`; `timeout` past `maxHeld`; `invalidArgument` for a `maxHeld` that is not
    ///   positive or a `linger` that starts below zero (before the lock is requested); what `body`
    ///   throws; everything ``lock()`` throws.
    public func withLock<T: Sendable>(
        maxHeld: Duration? = nil, linger: ClosedRange<Duration>? = nil,
        _ body: @Sendable (LockGrant) async throws -> T
    ) async throws -> T {
        if let maxHeld, maxHeld <= .zero {
            throw BatonError(.invalidArgument, "lock \(name): maxHeld must be positive, got \(maxHeld)")
        }
        if let linger, linger.lowerBound < .zero {
            throw BatonError(.invalidArgument, "lock \(name): linger must not be negative, got \(linger)")
        }
        // Nothing but the lock is awaited here: this frame stays with the task while it waits in the
        // queue, so everything done under the lock is in `run`'s.
        let grant = try await lock()
        return try await run(holding: grant, maxHeld: maxHeld, linger: linger, body)
    }

    private nonisolated(nonsending) func acquire(wait: Bool) async throws -> LockGrant {
        let events = session.environment.events
        let waiter = try await session.takeTurn(
            turns, value: [], wait: wait, recheck: !session.environment.mutations.contains(.noRecheck)
        ) { waiter in events.emit(.lockWaiting(name: name, key: waiter.key, token: waiter.revision)) }
        events.emit(.lockAcquired(name: name, key: waiter.key, token: waiter.revision))
        return LockGrant(hold: KeyHold(session: session, name: recipe, waiter: waiter))
    }

    /// ``withLock(maxHeld:linger:_:)`` once the lock is held.
    @inline(never)
    private func run<T: Sendable>(
        holding grant: LockGrant, maxHeld: Duration?, linger: ClosedRange<Duration>?,
        _ body: @Sendable (LockGrant) async throws -> T
    ) async throws -> T {
        let environment = session.environment
        let deadline = maxHeld.map { environment.now() + $0 }
        // The group does not outlive this call, so `body` does not actually escape.
        let result: Result<T, any Error> = await withoutActuallyEscaping(body) { body in
            await withTaskGroup(of: Result<HoldOutcome<T>, any Error>.self) { group in
                group.addTask {
                    await Result {
                        let value = try await body(grant)
                        if let linger { try await environment.sleep(for: environment.random.duration(in: linger)) }
                        return .finished(value)
                    }
                }
                group.addTask { await Result { .lost(try await grant.lost()) } }
                if let deadline {
                    group.addTask {
                        await Result {
                            try await environment.sleep(until: deadline)
                            return .overran
                        }
                    }
                }
                defer { group.cancelAll() }
                let first = await group.next()!
                group.cancelAll()
                switch first {
                case .success(.finished(let value)):
                    return .success(value)
                case .success(.lost(let error)):
                    await drainBody(&group)
                    environment.events.emit(.lockLost(name: name, key: grant.key, token: grant.fencingToken))
                    return .failure(error)
                case .success(.overran):
                    await drainBody(&group)
                    return .failure(BatonError(.timeout, "lock \(name) held longer than its maximum; body cancelled"))
                case .failure(let error):
                    return .failure(error)
                }
            }
        }
        do {
            try await grant.unlock()
        } catch let error as BatonError where error.code == .lockReleased {
            if case .success = result {
                throw BatonError(.lockLost, "lock \(name) was lost before unlock", cause: error)
            }
        } catch {
            // Once the lock is lost, unlocking only tidies up (the key is gone or dies with its
            // lease): a store that cannot be reached then must not hide `lockLost`.
            guard case .failure(let lost as BatonError) = result, lost.code == .lockLost else { throw error }
        }
        return try result.get()
    }

    /// Waits for the cancelled body to return (the other children finish at once when cancelled).
    private func drainBody<T>(_ group: inout TaskGroup<Result<HoldOutcome<T>, any Error>>) async {
        while await group.next() != nil {}
    }
}

/// What finished first under a held lock: the body, or the loss of the lock.
enum HoldOutcome<T: Sendable>: Sendable {
    case finished(T)
    case lost(BatonError)
    case overran
}

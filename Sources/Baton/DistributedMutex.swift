import BatonCore

/// A mutex shared by every session that names it, in this process or any other using the same store:
/// etcd's `concurrency.Mutex`, with fencing tokens, one grant per holder and lost-lock cancellation.
///
/// Waiters queue in create-revision order (FIFO) and each watches only its immediate predecessor, so
/// an unlock wakes one waiter, not all. Two tasks sharing a session exclude each other like any two
/// holders. Keys are `<name>/<lease hex>` as `etcdctl lock <name>` writes them.
public struct DistributedMutex: Sendable {
    /// The session the lock is taken through.
    public let session: Session
    let recipe: RecipeName

    init(session: Session, name: RecipeName) {
        self.session = session
        self.recipe = name
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
    public func lock() async throws -> LockGrant {
        try await acquire(wait: true)
    }

    /// Like ``lock()``, but gives up after `timeout` on the session's clock.
    /// - Throws: `timeout` when the lock was not acquired in time (the waiter key is removed), and
    ///   everything ``lock()`` throws.
    public func lock(timeout: Duration) async throws -> LockGrant {
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
    public func tryLock() async throws -> LockGrant {
        try await acquire(wait: false)
    }

    /// Runs `body` while holding the lock, then unlocks.
    ///
    /// If the lock is lost while `body` runs (the session expired, the key was deleted), `body` is
    /// cancelled and, once it returns, this throws `lockLost`. Waiting for the lock is as
    /// ``lock()``.
    /// - Throws: `lockLost`; what `body` throws; everything ``lock()`` throws.
    public func withLock<T: Sendable>(_ body: @Sendable (LockGrant) async throws -> T) async throws -> T {
        let grant = try await lock()
        return try await run(body, holding: grant)
    }

    private func acquire(wait: Bool) async throws -> LockGrant {
        try session.checkAlive()
        if wait {
            try await session.gates.acquire(recipe.prefix, environment: session.environment)
        } else if await !session.gates.tryAcquire(recipe.prefix) {
            throw BatonError(.locked, "lock \(name) is held by another task of session \(session.lease)")
        }
        do {
            let grant = try await acquireKey(wait: wait)
            session.environment.events.emit(.lockAcquired(name: name, key: grant.key, token: grant.fencingToken))
            return grant
        } catch {
            await session.gates.release(recipe.prefix)
            throw error
        }
    }

    private func acquireKey(wait: Bool) async throws -> LockGrant {
        let key = recipe.key(for: session.lease)
        let (revision, owner) = try await session.createWaiterKey(recipe, value: [])
        do {
            if owner?.createRevision != revision {
                guard wait else { throw BatonError(.locked, "lock \(name) is held by \(owner.map { "\($0.key)" } ?? "another holder")") }
                session.environment.events.emit(.lockWaiting(name: name, key: key, token: revision))
                try await session.waitForPredecessors(recipe, revision: revision)
                if !session.environment.mutations.contains(.noRecheck) {
                    // The predecessor is gone; make sure our own key survived the wait (etcd #19597).
                    let own = try await session.backend.range(RangeRequest(.key(key)))
                    guard own.kvs.first?.createRevision == revision else {
                        throw BatonError(.lockLost, "waiter key \(key) vanished while waiting")
                    }
                }
            }
            return LockGrant(hold: KeyHold(session: session, name: recipe, createRevision: revision))
        } catch {
            await session.deleteWaiterKey(key, createRevision: revision)
            throw error
        }
    }

    private func run<T: Sendable>(_ body: @Sendable (LockGrant) async throws -> T, holding grant: LockGrant) async throws -> T {
        // The group does not outlive this call, so `body` does not actually escape.
        let result: Result<T, any Error> = await withoutActuallyEscaping(body) { body in
            await withTaskGroup(of: Result<HoldOutcome<T>, any Error>.self) { group in
            group.addTask { await Result { .finished(try await body(grant)) } }
            group.addTask { await Result { .lost(try await grant.lost()) } }
            defer { group.cancelAll() }
            switch await group.next()! {
            case .success(.finished(let value)): return .success(value)
            case .success(.lost(let error)):
                group.cancelAll()
                _ = await group.next()  // let the body observe cancellation and return
                session.environment.events.emit(.lockLost(name: name, key: grant.key, token: grant.fencingToken))
                return .failure(error)
            case .failure(let error): return .failure(error)
            }
            }
        }
        do {
            try await grant.unlock()
        } catch let error as BatonError where error.code == .lockReleased {
            if case .success = result { throw BatonError(.lockLost, "lock \(name) was lost before unlock", cause: error) }
        } catch {
            // Once the lock is lost, unlocking only tidies up (the key is gone or dies with its
            // lease): a store that cannot be reached then must not hide `lockLost`.
            guard case .failure(let lost as BatonError) = result, lost.code == .lockLost else { throw error }
        }
        return try result.get()
    }
}

/// What finished first under a held lock: the body, or the loss of the lock.
enum HoldOutcome<T: Sendable>: Sendable {
    case finished(T)
    case lost(BatonError)
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

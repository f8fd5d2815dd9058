@_spi(BatonInternals) import BatonCore
import BatonEtcd
import Synchronization

/// A lease kept alive in the background: the liveness of every lock and leadership taken through it.
///
/// A session renews its lease every `ttl / 3`. Its client-side deadline is the send time of the last
/// successful keep-alive plus the TTL — measured from when the request was *sent*, so a slow reply
/// never extends it. When the deadline passes or the store says the lease is gone, the session ends as
/// ``End/expired`` and every holder learns its lock is lost. On `local:` the store itself keeps the
/// lease alive while the session lives — no requests, no tasks — and ends the session as expired if
/// the lease is revoked or the store closes. Create one with ``BatonClient/session(ttl:)``.
public final class Session: Sendable {
    /// Why a session ended.
    public enum End: Hashable, Sendable, CustomStringConvertible {
        /// The lease expired on the server or could not be renewed within its TTL.
        case expired
        /// ``Session/close()`` revoked the lease.
        case closed
        /// ``Session/orphan()`` stopped renewing; the lease lives on until its TTL runs out.
        case orphaned

        public var description: String {
            switch self {
            case .expired: "expired"
            case .closed: "closed"
            case .orphaned: "orphaned"
            }
        }
    }

    /// The session's lease.
    public let lease: LeaseID
    /// The TTL the store granted.
    public let ttl: Duration
    /// The client the session belongs to.
    public let client: BatonClient
    let gates: HolderGates
    /// The lease ID in etcd's key form (lowercase hex), computed once.
    private let leaseSuffix: [UInt8]
    /// How often this session retired its key name (``retireKeyName()``); 0 while it uses etcd's.
    private let retiredKeyNames = Atomic<Int>(0)
    private let state: Mutex<State>

    private struct State {
        var end: End?
        var deadline: Duration
        /// What to run when the session ends: ``ended()``'s continuations and ``whenEnded(_:)``'s actions,
        /// by registration number (sequential, so a table indexed by it: every waiting task has one).
        var waiters = IDTable<@Sendable (End) -> Void>()
        var nextWaiter: Int64 = 0
        var tasks: [Task<Void, any Error>] = []
    }

    init(client: BatonClient, grant: LeaseGrant, grantSentAt: Duration) {
        self.client = client
        self.environment = client.environment
        self.gates = HolderGates(environment: client.environment)
        self.lease = grant.id
        self.leaseSuffix = Array(grant.id.hex.utf8)
        self.ttl = .seconds(grant.ttl)
        self.state = Mutex(State(deadline: grantSentAt + .seconds(grant.ttl)))
    }

    /// The client's environment (kept here, as every recipe step reads it).
    let environment: BatonEnvironment
    var backend: any Backend { client.backend }

    /// How the session ended, or `nil` while it is alive.
    public var end: End? { state.withLock { $0.end } }

    /// Waits until the session ends and returns why.
    /// - Throws: `CancellationError` if the waiting task is cancelled (the session is unaffected).
    public func ended() async throws -> End {
        let ending = OneShot<End>()
        let registration = whenEnded { ending.resolve(.success($0)) }
        defer { registration.cancel() }
        return try await ending.value()
    }

    /// Runs `action` once when the session ends — at once, in the caller, if it already has — unless
    /// the returned registration is cancelled first.
    func whenEnded(_ action: @escaping @Sendable (End) -> Void) -> EndRegistration {
        let (id, end) = state.withLock { state -> (Int64, End?) in
            if let end = state.end { return (0, end) }
            state.nextWaiter += 1
            state.waiters.insert(action, for: state.nextWaiter)
            return (state.nextWaiter, nil)
        }
        if let end { action(end) }
        return EndRegistration(session: self, id: id)
    }

    /// A pending ``whenEnded(_:)`` action; cancel it when it is no longer wanted.
    struct EndRegistration: Sendable {
        let session: Session
        let id: Int64
        func cancel() { _ = session.state.withLock { $0.waiters.removeValue(for: id) } }
    }

    /// Ends the session and revokes its lease, deleting every key it holds in one revision.
    ///
    /// Holders learn of the end before the keys go. The revoke runs to completion even if the calling
    /// task is cancelled.
    /// - Throws: `alreadyClosed` if the session had already ended; `unavailable` if the revoke could
    ///   not reach the store (the lease then runs out by its TTL).
    public func close() async throws {
        guard finish(.closed) else { throw BatonError(.alreadyClosed, "session \(lease) already ended") }
        let backend = self.backend, lease = self.lease
        do {
            try await runToCompletion { try await backend.revokeLease(lease) }
        } catch let error as BatonError where error.code == .leaseNotFound {
            // Already gone on the server: nothing left to revoke.
        } catch {
            throw BatonError(.unavailable, "could not revoke lease \(lease); it expires after its TTL", cause: error)
        }
    }

    /// Ends the session without revoking its lease: keep-alives stop and the lease (with every key on
    /// it) expires after its TTL. Does nothing if the session already ended.
    public func orphan() {
        finish(.orphaned)
    }

    /// Renews the lease once, now, instead of waiting for the next scheduled keep-alive (distlock's
    /// `Refresh`). Returns the TTL the store granted.
    /// - Throws: `sessionExpired` if the lease is gone (the session then ends as expired);
    ///   `alreadyClosed` after close or orphan; backend errors.
    public func keepAliveOnce() async throws -> Duration {
        try checkAlive()
        do {
            return .seconds(try await renew())
        } catch let error as BatonError where error.code == .leaseNotFound {
            throw BatonError(.sessionExpired, "session \(lease) expired", cause: error)
        }
    }

    /// A mutex on `name` held through this session.
    /// - Throws: `invalidArgument` for an empty name or one containing NUL.
    public func mutex(_ name: String) throws -> DistributedMutex {
        DistributedMutex(session: self, turns: turns(under: try RecipeName(name, keyPrefix: client.keyPrefix)))
    }

    /// An election on `name` campaigned in through this session.
    /// - Throws: `invalidArgument` for an empty name or one containing NUL.
    public func election(_ name: String) throws -> Election {
        Election(session: self, turns: turns(under: try RecipeName(name, keyPrefix: client.keyPrefix)))
    }

    /// What this session's turns under `name` share, built once per mutex or election: see ``Turns``.
    func turns(under name: RecipeName) -> Turns {
        let stem = Key(bytes: name.prefix.bytes + leaseSuffix)
        return Turns(name: name, stem: stem)
    }

    /// This session's waiter or candidate key for its next turn under `turns`' name:
    /// `<prefix><name>/<lease hex>`, etcd's layout, or `<prefix><name>/<lease hex>-<n>` once the session
    /// has retired its key name `n` times (``retireKeyName()``).
    func key(of turns: Turns) -> Key {
        let retired = retiredKeyNames.load(ordering: .relaxed)
        return retired == 0 ? turns.stem : Key(bytes: turns.stem.bytes + Array("-\(retired)".utf8))
    }

    /// Stops using the current key name for later turns, because a delete by that name had an unknown
    /// outcome: the store may still apply it, and it must then find no later turn's key to take.
    ///
    /// Unlock deletes by name, one plain request as in etcd's recipe, where every turn of a session
    /// reuses `<name>/<lease hex>` — so there a delete that times out and lands late takes the next
    /// turn's key. A delete that was answered cannot land again (the transport never resends a write
    /// that may have reached the server), so names change only after unanswered ones.
    func retireKeyName() {
        if environment.mutations.contains(.unguardedUnlock) { return }
        retiredKeyNames.add(1, ordering: .relaxed)
    }

    /// Throws unless the session is alive.
    func checkAlive() throws {
        switch end {
        case nil: return
        case .expired?: throw BatonError(.sessionExpired, "session \(lease) expired")
        case let other?: throw BatonError(.alreadyClosed, "session \(lease) was \(other)")
        }
    }

    /// Has the store keep the lease alive when it can (``Backend/keepsLeasesInProcess``); otherwise
    /// starts the keep-alive loop and the deadline watchdog.
    /// - Throws: the store's error when it cannot keep the lease (the session has then ended).
    func start() async throws {
        environment.events.emit(.sessionStarted(lease: lease, ttl: ttl.components.seconds))
        if backend.keepsLeasesInProcess {
            do {
                try await backend.keepLeaseAlive(lease) { [self] in finish(.expired) }
            } catch {
                finish(.expired)
                throw error
            }
            // Orphaned meanwhile (its client closed): the stop may have reached the store first.
            if end == .orphaned { backend.stopKeepingLeaseAlive(lease, since: environment.now()) }
            return
        }
        let keepAlive = environment.spawn { [self] in try await keepAliveLoop() }
        let watchdog = environment.spawn { [self] in try await watchdogLoop() }
        let ended = state.withLock { state in
            state.tasks = [keepAlive, watchdog]
            return state.end != nil
        }
        if ended {
            keepAlive.cancel()
            watchdog.cancel()
        }
    }

    /// Renews the lease every TTL/3 (sooner after a failure); a reply saying the lease is gone ends
    /// the session.
    ///
    /// The schedule is absolute — each renewal is due one interval after the previous one was sent —
    /// so a late-running task never shifts it.
    private func keepAliveLoop() async throws {
        let interval = ttl / 3
        var due = state.withLock { $0.deadline } - ttl + interval
        while end == nil {
            try await environment.sleep(until: due)
            let sent = environment.now()
            do {
                _ = try await renew()
                due = sent + interval
            } catch let error as BatonError where error.code == .leaseNotFound {
                return
            } catch is CancellationError {
                return
            } catch {
                due = sent + interval / 4  // transient: try again soon; the watchdog enforces the deadline
            }
        }
    }

    /// Renews the lease once and moves the client-side deadline to the send time plus the granted TTL.
    /// A reply that the lease is gone ends the session as expired. - Returns: the granted TTL.
    /// - Throws: `leaseNotFound` (after ending the session); backend errors.
    private func renew() async throws -> Int64 {
        let sent = environment.now()
        do {
            let granted = try await backend.keepAliveLease(lease)
            state.withLock { $0.deadline = max($0.deadline, sent + .seconds(granted)) }
            environment.events.emit(.sessionRenewed(lease: lease, ttl: granted))
            return granted
        } catch let error as BatonError where error.code == .leaseNotFound {
            finish(.expired)
            throw error
        }
    }

    /// Ends the session when the client-side deadline passes without a renewal.
    private func watchdogLoop() async throws {
        while end == nil {
            let deadline = state.withLock { $0.deadline }
            try await environment.sleep(until: deadline)
            if environment.now() >= state.withLock({ $0.deadline }) {
                finish(.expired)
                return
            }
        }
    }

    /// Records the end, wakes every waiter and stops the background tasks. - Returns: false if the
    /// session had already ended.
    @discardableResult
    private func finish(_ end: End) -> Bool {
        let taken = state.withLock { state -> ([@Sendable (End) -> Void], [Task<Void, any Error>])? in
            guard state.end == nil else { return nil }
            state.end = end
            defer {
                state.waiters = IDTable()
                state.tasks.removeAll()
            }
            return (state.waiters.values, state.tasks)
        }
        guard let (waiters, tasks) = taken else { return false }
        if end == .orphaned, backend.keepsLeasesInProcess {
            backend.stopKeepingLeaseAlive(lease, since: environment.now())
        }
        environment.events.emit(.sessionEnded(lease: lease, reason: end))
        client.forget(self)
        for waiter in waiters { waiter(end) }
        for task in tasks { task.cancel() }
        return true
    }
}

/// The key names every turn of one session under one lock or election name uses, built once per mutex
/// or election rather than on every turn, and shared by its copies: one reference, so that a mutex or
/// election value (two references) is cheap to copy and small in the frames of the tasks that wait on it.
final class Turns: Sendable {
    /// The lock or election name.
    let name: RecipeName
    /// `<prefix><name>/<lease hex>`: the key of every turn while the session keeps etcd's key name.
    let stem: Key
    /// Every key name the session has had under the name (``KeyRange/keyNames(of:)`` of ``stem``).
    let own: KeyRange
    private let sawOthers = Atomic(false)

    init(name: RecipeName, stem: Key) {
        self.name = name
        self.stem = stem
        self.own = .keyNames(of: stem)
    }

    /// Whether the last turn found another key under the name. While it did not, the next turn first
    /// tries the create that needs the name to be free, and reads no predecessor. A hint, so every
    /// access is relaxed.
    var othersSeen: Bool {
        get { sawOthers.load(ordering: .relaxed) }
        set { sawOthers.store(newValue, ordering: .relaxed) }
    }
}

extension KeyRange {
    /// Every key name a session has under a lock or election name, given its first, `stem`
    /// (`<name>/<lease hex>`): from `stem` up to `stem.`, so it holds `stem` and `stem-<n>` but no other
    /// lease's keys (hex digits sort after `.`).
    package static func keyNames(of stem: Key) -> KeyRange { .interval(stem, stem.appending(".")) }
}

import BatonCore

/// A leader election shared by every session that names it: etcd's `concurrency.Election`, with
/// gap-free observation and fenced leadership.
///
/// Candidates queue like mutex waiters (key `<name>/<lease hex>`, value = the proposal); the leader is
/// the candidate with the lowest create revision, and that revision is its **term**. Proclaim is a
/// transaction guarded by the term, and resign deletes the leader's own key by a name no later term
/// shares, so a deposed leader can neither overwrite nor delete its successor's key.
public struct Election: Sendable {
    /// The session campaigns run through.
    public let session: Session
    let turns: Turns
    var recipe: RecipeName { turns.name }

    init(session: Session, turns: Turns) {
        self.session = session
        self.turns = turns
    }

    /// The election's name.
    public var name: String { recipe.name }

    /// Campaigns with `value` and waits until this session leads.
    ///
    /// While waiting, the candidate key is visible in ``members()``. When cancelled, or on any error,
    /// the candidate key is deleted before this returns. If the session ends while waiting, throws at
    /// once.
    /// - Throws: `CancellationError`; `sessionExpired` / `alreadyClosed`; `lockLost` when the candidate
    ///   key vanished while waiting; backend errors.
    public func campaign(_ value: String) async throws -> Leadership {
        let waiter = try await session.takeTurn(
            turns, value: Array(value.utf8), wait: true,
            onlyOnce: session.environment.mutations.contains(.unguardedCampaign))
        session.environment.events.emit(.leaderElected(election: name, key: waiter.key, term: waiter.revision))
        return Leadership(
            election: self, hold: KeyHold(session: session, name: recipe, waiter: waiter))
    }

    /// The current leader's key-value (its value is the leader's proposal; its create revision the
    /// term). - Throws: `noLeader` when nobody is campaigning; backend errors.
    public func leader() async throws -> KeyValue {
        let response = try await session.backend.range(
            RangeRequest(.prefix(recipe.prefix), limit: 1, sortOrder: .ascend, sortTarget: .create))
        guard let leader = response.kvs.first else { throw BatonError(.noLeader, "election \(name) has no leader") }
        return leader
    }

    /// Every candidate, leader first, in campaign (create revision) order.
    public func members() async throws -> [KeyValue] {
        try await session.backend.range(RangeRequest(.prefix(recipe.prefix), sortOrder: .ascend, sortTarget: .create))
            .kvs
    }

    /// Every change of leadership from now on: the current state first, then each new leader, each new
    /// proclaimed value and each time the election is left without a leader, in revision order.
    ///
    /// Built from a gap-free watch of the whole election, so no leader is skipped, however briefly it
    /// led, and a newer leader is never followed by an older one. A broken watch (the store
    /// unreachable) is resumed from the last revision seen, after a short pause on the session's clock.
    /// The stream ends when its consumer stops; it fails with `compacted` if the store compacted
    /// history it had not yet delivered.
    public func observe() -> AsyncThrowingStream<LeaderEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<LeaderEvent, any Error>.makeStream()
        let backend = session.backend, prefix = recipe.prefix, environment = session.environment
        let task = environment.spawn {
            do {
                try await LeaderObservation.run(backend: backend, prefix: prefix, environment: environment) {
                    continuation.yield($0)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// A change of leadership seen by ``Election/observe()``.
public enum LeaderEvent: Hashable, Sendable, CustomStringConvertible {
    /// `kv` leads (its create revision is the term; its value the proclaimed value).
    case leader(KeyValue)
    /// Nobody leads as of `revision`.
    case noLeader(revision: Int64)

    public var description: String {
        switch self {
        case .leader(let kv): "leader \(kv.key) term=\(kv.createRevision) value=\(kv.valueString)"
        case .noLeader(let revision): "no leader at revision \(revision)"
        }
    }
}

/// Replays an election's candidates from a snapshot and a watch, one revision at a time.
enum LeaderObservation {
    static func run(
        backend: any Backend, prefix: Key, environment: BatonEnvironment, emit: (LeaderEvent) -> Void
    ) async throws {
        let snapshot = try await backend.range(RangeRequest(.prefix(prefix)))
        var candidates = Dictionary(uniqueKeysWithValues: snapshot.kvs.map { ($0.key, $0) })
        var last = current(candidates, revision: snapshot.revision)
        var seen = snapshot.revision  // every revision up to here has been applied
        emit(last)
        while true {
            do {
                let events = try await backend.watch(WatchRequest(.prefix(prefix), startRevision: seen + 1))
                for try await response in events {
                    var index = response.events.startIndex
                    while index < response.events.endIndex {
                        let revision = response.events[index].kv.modRevision
                        while index < response.events.endIndex, response.events[index].kv.modRevision == revision {
                            let event = response.events[index]
                            switch event.kind {
                            case .put: candidates[event.kv.key] = event.kv
                            case .delete: candidates[event.kv.key] = nil
                            }
                            index += 1
                        }
                        seen = revision
                        let now = current(candidates, revision: revision)
                        if !same(now, last) {
                            emit(now)
                            last = now
                        }
                    }
                }
                try Task.checkCancellation()
            } catch let error as BatonError where error.code == .unavailable || error.code == .timeout {
                // The watch broke; resume it from the next unseen revision below.
            }
            try await environment.sleep(for: .milliseconds(100))
        }
    }

    private static func current(_ candidates: [Key: KeyValue], revision: Int64) -> LeaderEvent {
        candidates.values.min { $0.createRevision < $1.createRevision }.map(LeaderEvent.leader)
            ?? .noLeader(revision: revision)
    }

    /// Two states are the same leadership if the same generation leads with the same value.
    private static func same(_ a: LeaderEvent, _ b: LeaderEvent) -> Bool {
        switch (a, b) {
        case (.noLeader, .noLeader): true
        case (.leader(let x), .leader(let y)):
            x.key == y.key && x.createRevision == y.createRevision && x.value == y.value
        default: false
        }
    }
}

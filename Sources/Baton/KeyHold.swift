import BatonCore
import Synchronization

/// One held waiter key: what a lock grant and a leadership have in common.
///
/// The key's create revision is the fencing token, and every guarded write compares it, so a holder
/// whose key expired and was re-created by someone else can never overwrite theirs. The release deletes
/// by name; a name whose delete went unanswered is retired, so no delete can take another turn's key.
final class KeyHold: Sendable {
    let session: Session
    let name: RecipeName
    let key: Key
    let createRevision: Int64
    private let released = Mutex(false)

    init(session: Session, name: RecipeName, waiter: WaiterKey) {
        self.session = session
        self.name = name
        self.key = waiter.key
        self.createRevision = waiter.revision
    }

    /// The holder's own belief: not released and the session alive.
    var isHeld: Bool { !released.withLock { $0 } && session.end == nil }

    /// Returns the reason once the hold is lost: the session ended, or the key was deleted or
    /// replaced. - Throws: `CancellationError` when the waiting task is cancelled.
    func lost() async throws -> BatonError {
        try await session.loss(of: KeyGeneration(key, createRevision: createRevision))
    }

    /// Runs `operations` only if the key still has this hold's create revision.
    /// - Throws: `lockLost` when it does not; backend errors.
    func txnIfHeld(_ operations: [TxnOp]) async throws -> TxnResponse {
        let response = try await session.backend.txn(
            TxnRequest(
                compare: [Compare(key, .createRevision(createRevision), .equal)], success: operations))
        guard response.succeeded else {
            throw BatonError(.lockLost, "\(key) is no longer held (token \(createRevision))")
        }
        return response
    }

    /// Deletes the key by name, one plain request as in etcd's recipe, and frees the session's local gate.
    ///
    /// Runs to completion even if the caller is cancelled. A delete whose outcome is unknown (the store
    /// timed out or dropped the connection: etcd may apply it, even later) first retires the session's
    /// key name (``Session/retireKeyName()``), so that landing late it finds no later turn's key to take.
    /// It is then retried, with backoff on the session's clock, until it lands or the session ends:
    /// giving up would strand the key until the lease expires. After such an attempt, a retry that finds
    /// the key gone counts as the release (the unanswered attempt took it).
    /// - Throws: `lockReleased` if already released or no longer held; `unavailable` when the session
    ///   ended before the store could be reached (the key then goes with the lease); backend errors.
    nonisolated(nonsending) func release() async throws {
        guard
            released.withLock({ (released: inout Bool) -> Bool in
                defer { released = true }
                return !released
            })
        else { throw BatonError(.lockReleased, "\(key) was already released") }
        let outcome = await Result {
            // Inline when the store completes cancelled requests anyway (no closure to allocate).
            if session.backend.completesCancelledRequests { return try await deleteByName() }
            return try await session.runToCompletion { try await self.deleteByName() }
        }
        await session.gates.release(name.prefix)
        guard try outcome.get() else {
            throw BatonError(.lockReleased, "\(key) was not held any more (token \(createRevision))")
        }
    }

    /// The release's delete, retried while unanswered (see ``release()``). - Returns: whether it took
    /// the key, or an unanswered attempt may have.
    private nonisolated(nonsending) func deleteByName() async throws -> Bool {
        var backoff = Duration.milliseconds(100)
        var unanswered = false
        while true {
            do {
                return try await session.backend.deleteRange(DeleteRangeRequest(.key(key))).deleted > 0 || unanswered
            } catch let error as BatonError where error.code == .unavailable || error.code == .timeout {
                if !unanswered {
                    unanswered = true
                    session.retireKeyName()
                }
                guard session.end == nil else {
                    throw BatonError(
                        .unavailable, "could not delete \(key); it goes when lease \(session.lease) does", cause: error)
                }
                try await session.environment.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(1))
            }
        }
    }
}

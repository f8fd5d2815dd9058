import BatonCore

/// One holder's grant of a ``DistributedMutex``: proof of holding, with a fencing token.
///
/// The ``fencingToken`` (the waiter key's create revision) strictly increases across successive
/// holders of a name. Pass it to the resource you protect and have it reject tokens lower than the
/// highest it has seen, or make store writes conditional with ``txnIfHeld(_:)``: a holder paused past
/// its lease then cannot do damage.
public final class LockGrant: Sendable {
    /// The lock's name.
    public let name: String
    private let hold: KeyHold

    init(hold: KeyHold) {
        self.name = hold.name.name
        self.hold = hold
    }

    /// The waiter key in the store: `<prefix><name>/<lease hex>`, or `<prefix><name>/<lease hex>-<n>` once
    /// an unlock of the session went unanswered.
    public var key: Key { hold.key }
    /// Strictly increasing across successive holders of this name.
    public var fencingToken: Int64 { hold.createRevision }
    /// The session the lock is held through.
    public var session: Session { hold.session }

    /// Whether this holder still believes it holds the lock: not unlocked, session alive.
    ///
    /// A belief, not a guarantee (a paused process cannot know its lease ran out): guard writes with
    /// the fencing token or ``txnIfHeld(_:)``.
    public var isHeld: Bool { hold.isHeld }

    /// Releases the lock: deletes the waiter key by name, one plain request as in etcd's recipe. No later
    /// turn's key shares that name: a session changes its key name after an unlock that went unanswered
    /// (see ``key``).
    ///
    /// Completes even if the calling task is cancelled.
    /// - Throws: `lockReleased` when already unlocked or when the key was already gone (the lock was
    ///   lost meanwhile: the key expired with its lease or was deleted); backend errors.
    public nonisolated(nonsending) func unlock() async throws {
        try await hold.release()
        hold.session.environment.events.emit(.lockReleased(name: name, key: key, token: fencingToken))
    }

    /// Waits until the lock is lost — the session ended or the key was deleted — and returns why
    /// (a `lockLost` error, with the session's end as its cause where that was the reason).
    /// - Throws: `CancellationError` when the waiting task is cancelled.
    public func lost() async throws -> BatonError {
        try await hold.lost()
    }

    /// Runs `operations` in one transaction only if this grant still holds the lock (the key's create
    /// revision equals the fencing token).
    /// - Throws: `lockLost` when it does not hold it; backend errors.
    public func txnIfHeld(_ operations: [TxnOp]) async throws -> TxnResponse {
        try await hold.txnIfHeld(operations)
    }
}

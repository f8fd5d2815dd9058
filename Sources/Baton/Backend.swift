import BatonCore

/// The events of one watch, in revision order with no gaps; ends when the watch is cancelled.
public typealias WatchStream = AsyncThrowingStream<WatchResponse, any Error>

/// The operations Baton's recipes need from a store: etcd's KV, lease and watch services.
///
/// Sessions, mutexes and elections are written once against this protocol; ``LocalStore``, the etcd
/// gateway and the simulated network implement it.
///
/// ## Implementation requirements
/// - Semantics are etcd's v3 API (see the request types in `BatonCore`): one revision per write
///   transaction; a txn is atomic; a lease revoke or expiry deletes all its keys in one revision.
/// - Errors are ``BatonError``s: `leaseNotFound` for a missing lease (including a keep-alive of an
///   expired one), `compacted`, `unavailable` when the store cannot be reached, `timeout` when a request
///   outlives its deadline. A cancelled caller gets `CancellationError` or the request completes; a
///   request must never hang past its timeout.
/// - ``watch(_:)`` returns only once the watch is registered (etcd's `created`), so a read made after it
///   returns cannot miss a later event. The stream delivers every matching event from its start
///   revision in revision order, ends with `compacted` if it cannot, and cancels the server-side watch
///   when its consumer stops iterating or drops it.
/// - Every task an implementation starts uses the environment's executor preference.
public protocol Backend: Sendable {
    /// Reads keys.
    func range(_ request: RangeRequest) async throws -> RangeResponse
    /// Writes one key.
    func put(_ request: PutRequest) async throws -> PutResponse
    /// Deletes keys.
    func deleteRange(_ request: DeleteRangeRequest) async throws -> DeleteRangeResponse
    /// Runs a transaction.
    func txn(_ request: TxnRequest) async throws -> TxnResponse
    /// Forgets history at and below `revision`.
    func compact(revision: Int64) async throws
    /// Grants a lease of `ttl` seconds; `id` nil lets the store choose.
    func grantLease(ttl: Int64, id: LeaseID?) async throws -> LeaseGrant
    /// Renews a lease once; returns its TTL in seconds. - Throws: `leaseNotFound` when it is gone.
    func keepAliveLease(_ id: LeaseID) async throws -> Int64
    /// Revokes a lease and deletes its keys. - Throws: `leaseNotFound`.
    func revokeLease(_ id: LeaseID) async throws
    /// A lease's remaining time. - Throws: `leaseNotFound`.
    func leaseTimeToLive(_ id: LeaseID, keys: Bool) async throws -> LeaseTimeToLive
    /// Starts a watch; returns once it is registered.
    func watch(_ request: WatchRequest) async throws -> WatchStream
    /// Starts a watch as ``watch(_:)`` and also returns, when the backend knows it, a revision every
    /// event after which the stream delivers (etcd: the `created` frame's header revision). `nil`
    /// (the default) when unknown.
    func watchWithRevision(_ request: WatchRequest) async throws -> (events: WatchStream, revision: Int64?)
    /// Releases the backend's resources; later calls fail with `alreadyClosed`.
    func close() async

    /// Whether ``waitUntilGone(_:tag:interrupted:)`` and ``waitForTurn(_:under:tag:interrupted:)`` are
    /// served in process (``LocalStore``): the waiter is then resumed by the write that removes the
    /// key, with no watch stream, no read after waking and no task of its own. False (the default):
    /// waiters watch.
    var waitsInProcess: Bool { get }
    /// Suspends until one of `generations` is gone — deleted, or re-created as a new generation — and
    /// returns its index and the revision that showed it gone (the current one if it already is).
    ///
    /// Called only when ``waitsInProcess``. Once the wait is registered, `interrupted` is asked
    /// whether it should fail at once; later, ``interruptWaits(tag:with:)`` fails it.
    /// - Throws: `CancellationError` when the caller is cancelled; the interruption's error;
    ///   `alreadyClosed`; `unsupportedService` from a backend that does not wait in process.
    func waitUntilGone(
        _ generations: [KeyGeneration], tag: LeaseID, interrupted: @escaping @Sendable () -> BatonError?
    ) async throws -> (index: Int, revision: Int64)
    /// Suspends until `own` is the oldest key under `prefix` — no key created before it remains — and
    /// returns true with the revision that showed it; returns false (and the revision) if `own` is
    /// gone first. Follows the queue as the recipes' waiters do, inside the store: it watches only
    /// the immediate predecessor and, when that goes, the next older key.
    ///
    /// Called only when ``waitsInProcess``; interrupted as ``waitUntilGone(_:tag:interrupted:)``.
    /// - Throws: as ``waitUntilGone(_:tag:interrupted:)``.
    func waitForTurn(
        _ own: KeyGeneration, under prefix: Key, tag: LeaseID, interrupted: @escaping @Sendable () -> BatonError?
    ) async throws -> (owns: Bool, revision: Int64)
    /// Fails every in-process wait registered with `tag` with `error`.
    func interruptWaits(tag: LeaseID, with error: BatonError) async

    /// Whether the backend keeps a session's lease alive itself (``LocalStore``: the store lives in the
    /// session's process, so the lease cannot lapse while the session does). A session then runs no
    /// keep-alive loop and no deadline watchdog; it ends when told the lease is gone. False (the
    /// default): sessions renew their leases by requests.
    var keepsLeasesInProcess: Bool { get }
    /// Keeps `lease` alive until ``stopKeepingLeaseAlive(_:since:)`` or a revoke. `onEnd` runs once
    /// if the lease ends first (revoked by anyone, or the store closed), never after that call.
    ///
    /// Called only when ``keepsLeasesInProcess``.
    /// - Throws: `leaseNotFound` when the lease is gone; `alreadyClosed`; `unsupportedService` from
    ///   a backend that does not keep leases in process.
    func keepLeaseAlive(_ lease: LeaseID, onEnd: @escaping @Sendable () -> Void) async throws
    /// Stops keeping `lease` alive: it expires its TTL after `since`, as if last renewed then. Every
    /// request made after this returns sees the change. `onEnd` is not called.
    func stopKeepingLeaseAlive(_ lease: LeaseID, since: Duration)

    /// Whether a request, once called, completes even when the calling task is cancelled. When false
    /// (the default), clean-up that must reach the store after a cancellation — deleting a waiter key,
    /// unlocking, revoking — runs in a task of its own.
    var completesCancelledRequests: Bool { get }
}

extension Backend {
    public var completesCancelledRequests: Bool { false }

    public var waitsInProcess: Bool { false }

    public func waitUntilGone(
        _ generations: [KeyGeneration], tag: LeaseID, interrupted: @escaping @Sendable () -> BatonError?
    ) async throws -> (index: Int, revision: Int64) {
        throw BatonError(.unsupportedService, "this backend does not wait in process; watch instead")
    }

    public func waitForTurn(
        _ own: KeyGeneration, under prefix: Key, tag: LeaseID, interrupted: @escaping @Sendable () -> BatonError?
    ) async throws -> (owns: Bool, revision: Int64) {
        throw BatonError(.unsupportedService, "this backend does not wait in process; watch instead")
    }

    public func interruptWaits(tag: LeaseID, with error: BatonError) async {}

    public var keepsLeasesInProcess: Bool { false }

    public func keepLeaseAlive(_ lease: LeaseID, onEnd: @escaping @Sendable () -> Void) async throws {
        throw BatonError(.unsupportedService, "this backend does not keep leases in process; renew them")
    }

    public func stopKeepingLeaseAlive(_ lease: LeaseID, since: Duration) {}

    public func watchWithRevision(_ request: WatchRequest) async throws -> (events: WatchStream, revision: Int64?) {
        (try await watch(request), nil)
    }
}

/// One generation of a key: the key and the create revision it had, which a recreated key does not.
public struct KeyGeneration: Hashable, Sendable {
    /// The key.
    public var key: Key
    /// The create revision of the generation.
    public var createRevision: Int64
    /// Names a generation.
    public init(_ key: Key, createRevision: Int64) {
        self.key = key
        self.createRevision = createRevision
    }
}

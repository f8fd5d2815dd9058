import Baton
import BatonCore
import Synchronization
import Testing

/// A store behind a member that may lag: the next serializable range after ``lag(at:)`` is answered
/// from a snapshot (the range at that revision, with that header revision), as a lagging etcd member
/// answers it. Records every range read.
///
/// Watches report the store's revision once registered, as etcd's `created` frame does (unless
/// `reportsWatchRevision` is false); with `writeBeforeWatch`, an unrelated key is written first, as
/// another client may between a waiter's create and its watch.
final class LaggingReadsBackend: ForwardingBackend {
    struct Read: Equatable, Sendable {
        var serializable: Bool
        var revision: Int64
    }

    let store: any Backend
    let reportsWatchRevision: Bool
    let writeBeforeWatch: Bool
    private let state = Mutex<(lagAt: Int64?, reads: [Read])>((nil, []))
    /// One element per watch registered.
    let watches: AsyncStream<Void>
    private let watched: AsyncStream<Void>.Continuation
    init(_ store: any Backend, reportsWatchRevision: Bool = true, writeBeforeWatch: Bool = false) {
        self.store = store
        self.reportsWatchRevision = reportsWatchRevision
        self.writeBeforeWatch = writeBeforeWatch
        (watches, watched) = AsyncStream.makeStream()
    }

    /// Answers the next serializable read as of `revision`.
    func lag(at revision: Int64) { state.withLock { $0.lagAt = revision } }
    var reads: [Read] { state.withLock { $0.reads } }

    func range(_ request: RangeRequest) async throws -> RangeResponse {
        let lagAt = state.withLock { state -> Int64? in
            guard request.serializable else { return nil }
            defer { state.lagAt = nil }
            return state.lagAt
        }
        var response: RangeResponse
        if let lagAt {
            var lagging = request
            lagging.revision = lagAt
            response = try await store.range(lagging)
            response.revision = lagAt
        } else {
            response = try await store.range(request)
        }
        let read = Read(serializable: request.serializable, revision: response.revision)
        state.withLock { $0.reads.append(read) }
        return response
    }

    func watchWithRevision(_ request: WatchRequest) async throws -> (events: WatchStream, revision: Int64?) {
        if writeBeforeWatch { _ = try await store.put(PutRequest(key: "unrelated")) }
        let events = try await store.watch(request)
        let revision = try await store.range(RangeRequest(.key("unrelated"))).revision
        watched.yield()
        return (events, reportsWatchRevision ? revision : nil)
    }
}

/// The reads of a waiter: none after its watch when the predecessor was seen at a revision the watch
/// covers; after a wake-up, serializable when the member that answers has applied the delete, else
/// linearizable.
@Suite struct WakeUpReadTests {
    /// A waiter on `backend`, queued behind the holder of "r"; returns once it watches the holder.
    private func queue(_ h: Harness, _ backend: LaggingReadsBackend) async throws -> Task<LockGrant, any Error> {
        let session = try await BatonClient(backend: backend, environment: h.environment).session()
        let waiter = Task { try await session.mutex("r").lock() }
        for await _ in backend.watches { break }
        return waiter
    }

    /// The predecessor was seen at the waiter's create, which the watch covers: one read, at wake-up.
    @Test func aCurrentSerializableReadIsEnough() async throws {
        let h = try await Harness(.local)
        let backend = LaggingReadsBackend(h.store)
        let holder = try await h.session().mutex("r").lock()
        let waiter = try await queue(h, backend)
        try await holder.unlock()
        let grant = try await waiter.value
        #expect(grant.fencingToken > holder.fencingToken)
        let current = try await h.store.range(RangeRequest(.key(grant.key))).revision
        #expect(backend.reads == [.init(serializable: true, revision: current)])
        try await grant.unlock()
        await h.close()
    }

    /// When the watch may start after the revision the predecessor was seen at — another write came
    /// between, or the backend does not say where the watch starts — the predecessor is read again
    /// after the watch: serializably when the watch's revision is known, else linearizably.
    @Test(arguments: [
        (writeBeforeWatch: true, reportsWatchRevision: true),
        (writeBeforeWatch: false, reportsWatchRevision: false),
    ])
    func aWatchThatMayStartLateIsFollowedByARead(writeBeforeWatch: Bool, reportsWatchRevision: Bool)
        async throws
    {
        let h = try await Harness(.local)
        let backend = LaggingReadsBackend(
            h.store, reportsWatchRevision: reportsWatchRevision, writeBeforeWatch: writeBeforeWatch)
        let holder = try await h.session().mutex("r").lock()
        let waiter = try await queue(h, backend)
        let watchedAt = try await h.store.range(RangeRequest(.key("unrelated"))).revision
        try await holder.unlock()
        let grant = try await waiter.value
        let current = try await h.store.range(RangeRequest(.key(grant.key))).revision
        #expect(
            backend.reads == [
                .init(serializable: reportsWatchRevision, revision: watchedAt),
                .init(serializable: true, revision: current),
            ])
        try await grant.unlock()
        await h.close()
    }

    @Test func aStaleSerializableReadIsReadAgainLinearizably() async throws {
        let h = try await Harness(.local)
        let backend = LaggingReadsBackend(h.store)
        let holder = try await h.session().mutex("r").lock()
        let waiter = try await queue(h, backend)
        let snapshot = try await h.store.range(RangeRequest(.prefix(Key("r/")))).revision
        backend.lag(at: snapshot)  // as if the member had stopped applying while both keys existed
        try await holder.unlock()
        let grant = try await waiter.value
        #expect(grant.fencingToken > holder.fencingToken)
        let current = try await h.store.range(RangeRequest(.key(grant.key))).revision
        #expect(
            backend.reads == [
                .init(serializable: true, revision: snapshot), .init(serializable: false, revision: current),
            ])
        try await grant.unlock()
        await h.close()
    }
}

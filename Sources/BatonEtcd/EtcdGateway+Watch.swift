import BatonCore

extension EtcdGateway {
    /// Watch streams the changes to `request.range` (`POST /v3/watch`), from `request.startRevision`
    /// or, when that is nil, from the next write.
    ///
    /// Returns once etcd has registered the watch (its `created` frame), so a read made after this
    /// returns cannot miss a later event. The stream yields one `WatchResponse` per frame, in revision
    /// order, with each event's previous key-value when `request.prevKV` is set.
    ///
    /// When the connection drops (etcd restarted or shut down, a member was killed, any error
    /// frame but a refusal of the request), the watch reconnects, to another endpoint if need be,
    /// with a back-off of 50 ms doubling to 1 s, and resumes just after the last revision it
    /// delivered, so no event is lost or repeated. It keeps trying until the consumer stops or the
    /// gateway is closed.
    ///
    /// The stream ends:
    /// - with `BatonError(.compacted)` when the revision to resume from (or the start revision) has
    ///   been compacted;
    /// - with `authenticationFailed` / `invalidArgument` when etcd cancels the watch for that;
    /// - with `alreadyClosed` when the gateway is closed.
    ///
    /// When the consumer stops iterating (its task is cancelled or it drops the stream), the HTTP
    /// connection is closed, which cancels the watch on the server.
    ///
    /// - Throws: `BatonError` with `unavailable` when no endpoint accepts the watch; `timeout` when
    ///   etcd does not confirm it within the request timeout; `authenticationFailed`;
    ///   `malformedResponse`; `alreadyClosed`. `CancellationError` when the calling task is
    ///   cancelled while waiting (the connection is closed).
    public func watch(_ request: WatchRequest) async throws -> AsyncThrowingStream<WatchResponse, any Error> {
        try await watchWithRevision(request).events
    }

    /// Watch as ``watch(_:)``, also returning the revision etcd registered the watch at: the header
    /// revision of its `created` frame, the store's revision once the watch existed. Every event after
    /// it is delivered, so a read that reflects at least that revision cannot miss an event.
    ///
    /// - Throws: as ``watch(_:)``.
    public func watchWithRevision(
        _ request: WatchRequest
    ) async throws -> (events: AsyncThrowingStream<WatchResponse, any Error>, revision: Int64?) {
        try checkOpen()
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: WatchResponse.self, throwing: (any Error).self)
        let (watcher, task) = watches.withLock { watches in
            defer { watches.nextID += 1 }
            let watcher = EtcdWatch(gateway: self, id: watches.nextID, request: request, output: continuation)
            // Started under the lock, so the task cannot unregister itself before it is registered.
            let task = Task(executorPreference: taskExecutor) { await watcher.run() }
            watches.running[watches.nextID] = task
            return (watcher, task)
        }
        continuation.onTermination = { _ in task.cancel() }
        if transport.isClosed { task.cancel() }
        do {
            let revision = try await withTaskCancellationHandler {
                try await watcher.created.value()
            } onCancel: {
                task.cancel()
            }
            return (stream, revision)
        } catch {
            task.cancel()
            throw error
        }
    }

    /// How many watch streams are running (for tests and diagnostics).
    var runningWatchCount: Int { watches.withLock { $0.running.count } }
}

import BatonCore
import BatonEtcd

/// The queue discipline shared by mutexes and elections: a waiter key per session under a name's
/// prefix, ordered by create revision, each waiter watching only its immediate predecessor.
extension Session {
    /// Takes this session's turn under `turns`' name, as mutexes and elections both do: the session's local
    /// gate for the name, then a waiter key, then (when `wait`) the wait for every earlier key.
    /// Returns the key once it owns the name; the caller then holds the gate until it releases the key.
    ///
    /// On any error or cancellation the waiter key is deleted and the gate freed before this returns
    /// (or, after a create whose outcome is unknown, by the background task that resolves it). When
    /// the session has ended, the delete runs in the background: the key goes with the lease anyway,
    /// and the caller learns of the end at once, even from a store that does not answer.
    /// - Parameters:
    ///   - wait: wait for earlier keys; when false, fail with `locked` instead.
    ///   - recheck: compare the own key at every wake-up (false only for a planted bug).
    ///   - onlyOnce: stop after the first predecessor is gone (a planted bug).
    ///   - onWaiting: called once if the key has to wait.
    /// - Throws: `locked`; `CancellationError`; `sessionExpired` / `alreadyClosed`; `lockLost`;
    ///   backend errors.
    nonisolated(nonsending) func takeTurn(
        _ turns: Turns, value: [UInt8], wait: Bool, recheck: Bool = true, onlyOnce: Bool = false,
        onWaiting: (WaiterKey) -> Void = { _ in }
    ) async throws -> WaiterKey {
        let name = turns.name
        try checkAlive()
        if wait {
            try await gates.acquire(name.prefix)
        } else if await !gates.tryAcquire(name.prefix) {
            throw BatonError(.locked, "\(name.name) is held by another task of session \(lease)")
        }
        do {
            let waiter = try await createWaiterKey(turns, value: value)
            do {
                if !waiter.owns {
                    guard wait else {
                        let ahead = waiter.predecessor.map { "\($0.key)" } ?? "another key"
                        throw BatonError(.locked, "\(name.name) is held by another holder (\(ahead) is ahead)")
                    }
                    onWaiting(waiter)
                    if backend.waitsInProcess {
                        try await waitForTurnInProcess(name, waiter: waiter)
                    } else {
                        try await waitForPredecessors(name, waiter: waiter, recheck: recheck, onlyOnce: onlyOnce)
                    }
                }
                return waiter
            } catch {
                if end != nil {
                    // The key goes with the lease anyway: tidy up without holding the caller, who must
                    // learn of the end now, not after a request to a store that may not answer.
                    let (key, revision) = (waiter.key, waiter.revision)
                    environment.spawn { await self.deleteWaiterKey(key, createRevision: revision) }
                } else {
                    await deleteWaiterKey(waiter.key, createRevision: waiter.revision)
                }
                throw error
            }
        } catch let unresolved as WaiterKeyUnresolved {
            throw unresolved.cause  // the clean-up task releases the gate
        } catch {
            await gates.release(name.prefix)
            throw error
        }
    }

    /// Creates this session's waiter key under `turns`' name in one transaction that first reads, in the
    /// same revision, this key's predecessor: the newest key already under the name. Without one, the key
    /// owns the name.
    ///
    /// The transaction's guard is that the session has no key under the name at all, by any of its key
    /// names (``Turns/own``). A key it left behind earlier (a delete that failed to reach the store) is
    /// deleted by its create revision and the create retried, so every grant gets a new, higher create
    /// revision and no turn waits on a key of its own session.
    ///
    /// While the last turn under the name found no other key (``Turns/othersSeen``), a shorter
    /// transaction goes first: put the key only if no key at all is under the name. It reads nothing,
    /// and through etcd's gateway it answers faster; when the name is busy it fails, changing nothing,
    /// and the full transaction follows.
    ///
    /// When the transaction's outcome is unknown — it timed out, the connection dropped, or the caller
    /// was cancelled mid-request — the store may still apply it later. Then a background task reads the
    /// key and deletes it by its create revision (a delete by lease alone could land late and take a
    /// later generation), retrying until it knows or the session ends; it keeps the session's gate for
    /// the name until then, and this throws ``WaiterKeyUnresolved`` so the caller leaves the gate to it.
    /// - Throws: `sessionExpired` when the lease is gone; ``WaiterKeyUnresolved``; backend errors.
    private nonisolated(nonsending) func createWaiterKey(_ turns: Turns, value: [UInt8]) async throws -> WaiterKey {
        let key = key(of: turns), prefix = turns.name.prefix
        do {
            if !turns.othersSeen {
                // Nobody was ahead last time: create the key only if the name has no key at all. Then it
                // owns the name and there is no predecessor to read.
                let response = try await backend.txn(
                    .createIfNameFree(key, under: prefix, value: value, lease: lease))
                if response.succeeded { return WaiterKey(key: key, revision: response.revision, predecessor: nil) }
                turns.othersSeen = true
            }
            for _ in 0..<3 {
                let response = try await backend.txn(
                    .createReadingNewest(key, under: prefix, own: turns.own, value: value, lease: lease))
                if response.succeeded {
                    let predecessor = response.responses[0].range?.kvs.first
                    turns.othersSeen = predecessor != nil
                    return WaiterKey(key: key, revision: response.revision, predecessor: predecessor)
                }
                for stale in response.responses.first?.range?.kvs ?? [] {
                    _ = try await backend.txn(
                        TxnRequest(
                            compare: [Compare(stale.key, .createRevision(stale.createRevision), .equal)],
                            success: [.deleteRange(DeleteRangeRequest(.key(stale.key)))]))
                }
            }
            throw BatonError(.unavailable, "could not create waiter key \(key): keys of this session keep reappearing")
        } catch let error as BatonError where error.code == .leaseNotFound {
            throw BatonError(.sessionExpired, "session \(lease) expired", cause: error)
        } catch {
            guard !backend.completesCancelledRequests, Session.outcomeUnknown(error) else { throw error }
            environment.spawn { await self.resolveUnknownCreate(key, gate: prefix) }
            throw WaiterKeyUnresolved(cause: error)
        }
    }

    /// Whether a failed request may still have been applied.
    static func outcomeUnknown(_ error: any Error) -> Bool {
        if error is CancellationError { return true }
        guard let error = error as? BatonError else { return false }
        return error.code == .unavailable || error.code == .timeout
    }

    /// Finds out whether an interrupted create left `key` behind and deletes it by its create revision,
    /// then frees the session's gate for the name.
    private func resolveUnknownCreate(_ key: Key, gate: Key) async {
        var backoff = Duration.milliseconds(100)
        while end == nil {
            do {
                if let kv = try await backend.range(RangeRequest(.key(key))).kvs.first, kv.lease == lease {
                    _ = try await backend.txn(
                        TxnRequest(
                            compare: [Compare(key, .createRevision(kv.createRevision), .equal)],
                            success: [.deleteRange(DeleteRangeRequest(.key(key)))]))
                }
                break
            } catch  where Session.outcomeUnknown(error) && !(error is CancellationError) {
                guard (try? await environment.sleep(for: backoff)) != nil else { break }
                backoff = min(backoff * 2, .seconds(1))
            } catch {
                break
            }
        }
        await gates.release(gate)
    }

    /// Waits until no key under `name` has a create revision below the waiter's, watching one
    /// predecessor at a time; after each wake-up, one read returns the waiter's own key and the next
    /// predecessor (the two newest keys created no later than the own key), as of the revision that
    /// showed the predecessor gone or later (see ``readRange(_:asOf:)``). That suffices: no key with a
    /// lower create revision can appear later.
    ///
    /// The read is a plain range, not a transaction of two: it lies between one holder's unlock and
    /// the next one's turn, and etcd's gateway answers a range faster than a transaction.
    ///
    /// Ends with `lockLost` when the own key is found gone (its lease expired, or someone deleted it):
    /// at every wake-up, and, once the wait has lasted a keep-alive interval, as soon as it happens.
    /// Ends with `sessionExpired` or `alreadyClosed` when the session ends, also when that shows as the
    /// own key gone.
    /// - Parameters:
    ///   - recheck: compare the own key at every wake-up (false only for a planted bug).
    ///   - onlyOnce: stop after the first predecessor is gone (a planted bug).
    private func waitForPredecessors(
        _ name: RecipeName, waiter: WaiterKey, recheck: Bool = true, onlyOnce: Bool = false
    )
        async throws
    {
        let ownAndAhead = RangeRequest(
            .prefix(name.prefix), limit: 2, sortOrder: .descend, sortTarget: .create, keysOnly: true,
            maxCreateRevision: waiter.revision)
        let isOwn = { (kv: KeyValue) in kv.key == waiter.key && kv.createRevision == waiter.revision }
        var predecessor = waiter.predecessor
        var seenAt = waiter.revision
        while let current = predecessor {
            try checkAlive()
            let goneAt = try await waitForDeletion(
                of: current, seenAt: seenAt, ownKey: waiter.key, ownRevision: waiter.revision)
            if onlyOnce { return }
            let response = try await readRange(ownAndAhead, asOf: goneAt)
            seenAt = response.revision
            if recheck, response.kvs.first.map(isOwn) != true {
                throw ownKeyGone(waiter.key)
            }
            predecessor = response.kvs.first { !isOwn($0) }
        }
    }

    /// ``waitForPredecessors(_:waiter:recheck:onlyOnce:)`` on a store that waits in process: the store
    /// follows the queue by the same discipline (``Backend/waitForTurn(_:under:tag:interrupted:)``)
    /// and resumes the waiter only once it is first. (Its own function, so that a waiter's suspended
    /// frames stay small; planted bugs act on the watching path only.)
    private func waitForTurnInProcess(_ name: RecipeName, waiter: WaiterKey) async throws {
        let own = KeyGeneration(waiter.key, createRevision: waiter.revision)
        let turn = try await waitInProcess { [backend, lease] interrupted in
            try await backend.waitForTurn(own, under: name.prefix, tag: lease, interrupted: interrupted)
        }
        if !turn.owns { throw ownKeyGone(waiter.key) }
    }

    /// The error of a waiter whose own key is gone: the session's end when the key went with it,
    /// else `lockLost`.
    private func ownKeyGone(_ key: Key) -> BatonError {
        if let end { return Session.waitEndedError(end, lease) }
        return BatonError(.lockLost, "waiter key \(key) vanished while waiting")
    }

    /// Reads `range` as of `revision` or later (`nil`: linearizably).
    ///
    /// First serializably: the member that receives the read answers from its own store, without
    /// etcd's linearizable round (the leader's read index, then applying up to it). That
    /// answer is kept when the member had applied `revision`; a lagging member's (after a failover)
    /// is read again linearizably.
    func readRange(_ range: RangeRequest, asOf revision: Int64?) async throws -> RangeResponse {
        func read(serializable: Bool) async throws -> RangeResponse {
            var range = range
            range.serializable = serializable
            return try await backend.range(range)
        }
        guard let revision else { return try await read(serializable: false) }
        let response = try await read(serializable: true)
        return response.revision >= revision ? response : try await read(serializable: false)
    }

    /// Waits for `predecessor` to go, and meanwhile for the session to end and — after a keep-alive
    /// interval, so short waits cost no extra watch — for the own key to vanish. Returns the revision
    /// that showed the predecessor gone.
    private func waitForDeletion(
        of predecessor: KeyValue, seenAt: Int64, ownKey: Key, ownRevision: Int64
    ) async throws -> Int64 {
        let patience = ttl / 3, environment = self.environment
        return try await firstOf([
            { @Sendable in
                try await self.waitForDeletion(
                    of: predecessor.key, createRevision: predecessor.createRevision, seenAt: seenAt)
            },
            { @Sendable in
                try await environment.sleep(for: patience)
                try await self.waitForDeletion(of: ownKey, createRevision: ownRevision)
                throw self.ownKeyGone(ownKey)
            },
        ])
    }

    /// Returns once `generation` (a held key) is gone or the session has ended, with the `lockLost`
    /// its holder is told (caused by the session's end when that came first).
    func loss(of generation: KeyGeneration) async throws -> BatonError {
        do {
            if backend.waitsInProcess {
                _ = try await waitInProcess { [backend, lease] interrupted in
                    try await backend.waitUntilGone([generation], tag: lease, interrupted: interrupted)
                }
            } else {
                _ = try await firstOf([
                    { @Sendable in
                        try await self.waitForDeletion(of: generation.key, createRevision: generation.createRevision)
                    }
                ])
            }
            return BatonError(.lockLost, "\(generation.key) lost: the key was deleted")
        } catch let error as BatonError where error.code == .sessionExpired || error.code == .alreadyClosed {
            guard let end else { throw error }  // the store closed, not the session
            return BatonError(.lockLost, "\(generation.key) lost: session \(end)", cause: error)
        }
    }

    /// Runs each contender in a task of its own and returns the first outcome, or fails with the
    /// session's end if that comes first.
    ///
    /// The session's end arrives as a callback and everything resolves one ``OneShot``, so the
    /// caller resumes after a single task switch and the losers are cancelled without being waited
    /// for: a task group would hold the caller until they had wound down.
    private func firstOf<T: Sendable>(_ contenders: [@Sendable () async throws -> T]) async throws -> T {
        let outcome = OneShot<T>(), lease = self.lease
        let tasks = contenders.map { contender in
            environment.spawn { outcome.resolve(await Result { try await contender() }) }
        }
        let ending = whenEnded { outcome.resolve(.failure(Session.waitEndedError($0, lease))) }
        defer {
            for task in tasks { task.cancel() }
            ending.cancel()
        }
        return try await outcome.value()
    }

    /// Runs `wait` in the store (one that wakes waiters in process), tagged with the lease, and fails
    /// it with the session's end if that comes first. `wait` passes on the interruption check.
    private func waitInProcess<T>(
        _ wait: (_ interrupted: @escaping @Sendable () -> BatonError?) async throws -> T
    ) async throws -> T {
        let lease = self.lease
        let ending = whenEnded { [self] end in
            environment.spawn {
                await self.backend.interruptWaits(tag: lease, with: Session.waitEndedError(end, lease))
            }
        }
        defer { ending.cancel() }
        return try await wait { [self] in end.map { Session.waitEndedError($0, lease) } }
    }

    /// The error of a wait cut short by the session's end.
    private static func waitEndedError(_ end: End, _ lease: LeaseID) -> BatonError {
        BatonError(end == .expired ? .sessionExpired : .alreadyClosed, "session \(lease) \(end) while waiting")
    }

    /// Returns once `key`'s generation with `createRevision` is gone (deleted, or replaced by a new
    /// generation), with a revision at which it was gone: the event's, or the read's.
    ///
    /// Watches from now, then reads the key as of the watch's revision or later: a delete after that
    /// revision reaches the watch, and a delete before it is seen by the read. When the generation is
    /// known to have existed at `seenAt` and the watch started no later, nothing is read. A broken watch
    /// is re-established after a short pause on the environment's clock.
    @discardableResult
    func waitForDeletion(of key: Key, createRevision: Int64, seenAt: Int64? = nil) async throws -> Int64 {
        while true {
            do {
                let (events, watchedFrom) = try await backend.watchWithRevision(WatchRequest(.key(key)))
                if let watchedFrom, let seenAt, seenAt >= watchedFrom {
                    // It existed at a revision the watch already covers: any delete is an event.
                } else {
                    let current = try await readRange(RangeRequest(.key(key), keysOnly: true), asOf: watchedFrom)
                    guard current.kvs.first?.createRevision == createRevision else {
                        return current.revision
                    }
                }
                for try await response in events {
                    for event in response.events
                    where event.kind == .delete || event.kv.createRevision != createRevision {
                        return event.kv.modRevision
                    }
                }
                try Task.checkCancellation()
            } catch let error as BatonError where error.code != .alreadyClosed {
                try await environment.sleep(for: .milliseconds(100))  // store unreachable: retry
            }
        }
    }

    /// Runs a store request to completion even if the calling task is cancelled: inline when the
    /// backend completes cancelled requests anyway, else in a task of its own.
    func runToCompletion<T: Sendable>(_ request: @escaping @Sendable () async throws -> T) async throws -> T {
        if backend.completesCancelledRequests { return try await request() }
        return try await environment.uncancelled { try await request() }
    }

    /// Deletes this session's key under `name` if it is still the generation created at `revision`.
    /// Runs even when the calling task is cancelled; errors are dropped (the lease cleans up later).
    private func deleteWaiterKey(_ key: Key, createRevision: Int64) async {
        let backend = self.backend
        _ = try? await runToCompletion {
            try await backend.txn(
                TxnRequest(
                    compare: [Compare(key, .createRevision(createRevision), .equal)],
                    success: [.deleteRange(DeleteRangeRequest(.key(key)))]))
        }
    }
}

extension TxnRequest {
    /// A turn's short create: put `key` only if no key at all is under `prefix`. Succeeding, the key
    /// owns the name.
    package static func createIfNameFree(_ key: Key, under prefix: Key, value: [UInt8], lease: LeaseID) -> TxnRequest {
        TxnRequest(
            compare: [Compare(.prefix(prefix), .createRevision(0), .equal)],
            success: [.put(PutRequest(key: key, value: value, lease: lease))])
    }

    /// etcd's lock transaction, with Baton's guard: if the session has no key in `own` (its key names
    /// under the name), read the newest key under `prefix` — before the put, so every key but this
    /// one, all created earlier — and put `key`; otherwise read the session's keys in `own`.
    package static func createReadingNewest(
        _ key: Key, under prefix: Key, own: KeyRange, value: [UInt8], lease: LeaseID
    ) -> TxnRequest {
        TxnRequest(
            compare: [Compare(own, .createRevision(0), .equal)],
            success: [
                .range(
                    RangeRequest(.prefix(prefix), limit: 1, sortOrder: .descend, sortTarget: .create, keysOnly: true)),
                .put(PutRequest(key: key, value: value, lease: lease)),
            ],
            failure: [.range(RangeRequest(own, keysOnly: true))])
    }
}

/// A waiter key's create failed with an unknown outcome; a background task now owns the session's gate
/// for the name and cleans up, so ``Session/takeTurn(_:value:wait:recheck:onlyOnce:onWaiting:)``
/// rethrows ``cause`` without releasing the gate.
private struct WaiterKeyUnresolved: Error {
    let cause: any Error
}

/// A waiter key just created: its create revision, and the predecessor read with it.
struct WaiterKey: Sendable {
    let key: Key
    let revision: Int64
    /// The newest key created before this one (keys only, no value); nil when there was none.
    let predecessor: KeyValue?

    /// Whether the waiter owns the name already: no key was created before it.
    var owns: Bool { predecessor == nil }
}

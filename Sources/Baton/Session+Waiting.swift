import BatonCore

/// The queue discipline shared by mutexes and elections: a waiter key per session under a name's
/// prefix, ordered by create revision, each waiter watching only its immediate predecessor.
extension Session {
    /// Creates this session's waiter key under `name` in one transaction and reads the owner (the key
    /// with the lowest create revision) in the same revision.
    ///
    /// A key this session left behind earlier (an unlock that failed to reach the store) is deleted and
    /// created afresh, so every grant gets a new, higher create revision.
    /// - Returns: the new key's create revision and the current owner.
    func createWaiterKey(_ name: RecipeName, value: [UInt8]) async throws -> (revision: Int64, owner: KeyValue?) {
        let key = name.key(for: lease)
        let owner = RangeRequest(.prefix(name.prefix), limit: 1, sortOrder: .ascend, sortTarget: .create)
        for _ in 0..<3 {
            let response = try await backend.txn(TxnRequest(
                compare: [Compare(key, .createRevision(0), .equal)],
                success: [.put(PutRequest(key: key, value: value, lease: lease)), .range(owner)],
                failure: [.range(RangeRequest(.key(key)))]))
            if response.succeeded {
                return (response.revision, response.responses.last?.range?.kvs.first)
            }
            if let stale = response.responses.first?.range?.kvs.first {
                _ = try await backend.txn(TxnRequest(
                    compare: [Compare(key, .createRevision(stale.createRevision), .equal)],
                    success: [.deleteRange(DeleteRangeRequest(.key(key)))]))
            }
        }
        throw BatonError(.unavailable, "could not create waiter key \(key): it keeps reappearing")
    }

    /// Waits until no key under `name` has a create revision below `revision`, watching one
    /// predecessor at a time.
    ///
    /// Ends early, with `lockLost`, when this session's own key vanishes while it waits (its lease
    /// expired, or someone deleted it), and with `sessionExpired` when the session ends.
    /// - Parameter onlyOnce: wait for the immediate predecessor once and stop (a planted bug).
    func waitForPredecessors(_ name: RecipeName, revision: Int64, onlyOnce: Bool = false) async throws {
        let own = name.key(for: lease)
        while true {
            try checkAlive()
            let below = try await backend.range(RangeRequest(
                .prefix(name.prefix), limit: 1, sortOrder: .descend, sortTarget: .create,
                maxCreateRevision: revision - 1))
            guard let predecessor = below.kvs.first else { return }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.waitForDeletion(of: predecessor.key, createRevision: predecessor.createRevision) }
                group.addTask {
                    try await self.waitForDeletion(of: own, createRevision: revision)
                    throw BatonError(.lockLost, "own key \(own) vanished while waiting")
                }
                group.addTask {
                    let end = try await self.ended()
                    throw BatonError(end == .expired ? .sessionExpired : .alreadyClosed, "session \(self.lease) \(end) while waiting")
                }
                defer { group.cancelAll() }
                try await group.next()
            }
            if onlyOnce { return }
        }
    }

    /// Returns once `key`'s generation with `createRevision` is gone (deleted, or replaced by a new
    /// generation).
    ///
    /// Watches from now, then reads the key: a delete after the read cannot be missed, and a delete
    /// before it is seen by the read. A broken watch is re-established after a short pause on the
    /// environment's clock.
    func waitForDeletion(of key: Key, createRevision: Int64) async throws {
        while true {
            do {
                let events = try await backend.watch(WatchRequest(.key(key)))
                let current = try await backend.range(RangeRequest(.key(key)))
                guard current.kvs.first?.createRevision == createRevision else { return }
                for try await response in events {
                    for event in response.events
                    where event.kind == .delete || event.kv.createRevision != createRevision {
                        return
                    }
                }
                try Task.checkCancellation()
            } catch let error as BatonError where error.code != .alreadyClosed {
                try await environment.sleep(for: .milliseconds(100))  // store unreachable: retry
            }
        }
    }

    /// Deletes this session's key under `name` if it is still the generation created at `revision`.
    /// Runs even when the calling task is cancelled; errors are dropped (the lease cleans up later).
    func deleteWaiterKey(_ key: Key, createRevision: Int64) async {
        let backend = self.backend
        _ = try? await environment.uncancelled {
            try await backend.txn(TxnRequest(
                compare: [Compare(key, .createRevision(createRevision), .equal)],
                success: [.deleteRange(DeleteRangeRequest(.key(key)))]))
        }
    }
}

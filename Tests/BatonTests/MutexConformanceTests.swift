import Baton
import BatonCore
import Testing

/// The mutex recipe's contract, run against every backend.
@Suite struct MutexConformanceTests {
    @Test(arguments: BackendKind.allCases)
    func lockAndUnlockUseEtcdKeyLayout(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let session = try await h.session()
        let grant = try await session.mutex("jobs").lock()
        #expect(grant.key == Key("jobs/\(session.lease.hex)"))
        #expect(grant.isHeld)
        #expect(try await h.keys("jobs/") == ["jobs/\(session.lease.hex)"])
        try await grant.unlock()
        #expect(!grant.isHeld)
        #expect(try await h.keys("jobs/").isEmpty)
        await h.close()
    }

    @Test(.timeLimit(.minutes(1)), arguments: BackendKind.allCases)
    func aWaiterWhoseSessionEndsStopsWaitingAtOnce(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let holder = try await h.session(), waiter = try await h.session(), closer = try await h.session()
        let grant = try await holder.mutex("w").lock()
        let orphaned = Task { try await waiter.mutex("w").lock() }
        let closed = Task { try await closer.mutex("w").lock() }
        // The time limit cancels the test; pass that on, so that a stuck waiter fails it instead of
        // hanging the run.
        try await withTaskCancellationHandler {
            try await h.waitForKeys("w/", count: 3)
            waiter.orphan()  // its lease and key live on; the wait must end now, not at expiry
            await expectBatonError(.alreadyClosed) { try await orphaned.value }
            try await closer.close()
            await expectBatonError(.alreadyClosed) { try await closed.value }
        } onCancel: {
            orphaned.cancel()
            closed.cancel()
        }
        // The orphaned waiter's key is deleted in the background, long before its lease runs out.
        try await h.waitForKeys("w/", count: 1)
        #expect(try await h.keys("w/") == [grant.key.description])
        #expect(grant.isHeld)
        try await grant.unlock()
        await h.close()
    }

    @Test(arguments: BackendKind.allCases)
    func tryLockFailsWithLockedAndLeavesNoKey(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let a = try await h.session(), b = try await h.session()
        let grant = try await a.mutex("m").tryLock()
        await expectBatonError(.locked) { try await b.mutex("m").tryLock() }
        #expect(try await h.keys("m/") == [grant.key.description])
        try await grant.unlock()
        let second = try await b.mutex("m").tryLock()
        #expect(second.fencingToken > grant.fencingToken)
        await h.close()
    }

    @Test(arguments: BackendKind.allCases)
    func unlockByANonHolderFails(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let a = try await h.session(), b = try await h.session()
        let grant = try await a.mutex("m").lock()
        try await grant.unlock()
        await expectBatonError(.lockReleased) { try await grant.unlock() }
        // A stale grant must not delete the next holder's key.
        let next = try await b.mutex("m").lock()
        await expectBatonError(.lockReleased) { try await grant.unlock() }
        #expect(try await h.keys("m/") == [next.key.description])
        try await next.unlock()
        await h.close()
    }

    @Test(arguments: BackendKind.allCases)
    func waitersAcquireInFIFOOrder(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let holder = try await h.session().mutex("fifo").lock()
        let order = Recorder<Int>()
        var tasks: [Task<Void, any Error>] = []
        for i in 1...5 {
            let session = try await h.session()
            tasks.append(
                Task {
                    let grant = try await session.mutex("fifo").lock()
                    await order.append(i)
                    try await grant.unlock()
                })
            try await h.waitForKeys("fifo/", count: i + 1)  // queued before the next one starts
        }
        try await holder.unlock()
        for task in tasks { try await task.value }
        #expect(await order.items == [1, 2, 3, 4, 5])
        await h.close()
    }

    @Test(arguments: BackendKind.allCases)
    func cancellingAWaiterLeavesNoKey(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let holder = try await h.session().mutex("c").lock()
        let waiterSession = try await h.session()
        let waiter = Task { try await waiterSession.mutex("c").lock() }
        try await h.waitForKeys("c/", count: 2)
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(try await h.keys("c/") == [holder.key.description])
        // The session can still lock the name afterwards (its local gate was released).
        try await holder.unlock()
        let again = try await waiterSession.mutex("c").lock()
        try await again.unlock()
        await h.close()
    }

    @Test(arguments: BackendKind.allCases)
    func aNameNeverWaitsOnALongerName(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let nested = try await h.session().mutex("a/b").lock()
        let plain = try await h.session().mutex("a").tryLock()  // must not see a/b's holder
        #expect(nested.key.description.hasPrefix("a%2Fb/"))
        try await plain.unlock()
        try await nested.unlock()
        await h.close()
    }

    @Test(arguments: BackendKind.allCases)
    func twoTasksOnOneSessionExcludeEachOther(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let session = try await h.session()
        let mutex = try session.mutex("shared")
        let first = try await mutex.lock()
        await expectBatonError(.locked) { try await mutex.tryLock() }
        let second = Task { try await mutex.lock() }
        #expect(first.isHeld)
        try await first.unlock()
        let grant = try await second.value
        #expect(grant.fencingToken > first.fencingToken)
        try await grant.unlock()
        await h.close()
    }

    @Test(arguments: BackendKind.allCases)
    func fencingTokensStrictlyIncreaseAndGuardWrites(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        var tokens: [Int64] = []
        var stale: LockGrant?
        for _ in 0..<6 {
            let grant = try await h.session().mutex("fence").lock()
            tokens.append(grant.fencingToken)
            _ = try await grant.txnIfHeld([
                .put(PutRequest(key: "resource", value: Array("\(grant.fencingToken)".utf8)))
            ])
            try await grant.unlock()
            stale = grant
        }
        #expect(tokens == tokens.sorted() && Set(tokens).count == tokens.count)
        await expectBatonError(.lockLost) { try await stale!.txnIfHeld([.put(PutRequest(key: "resource"))]) }
        await h.close()
    }

    @Test(arguments: BackendKind.allCases)
    func lockWithTimeoutGivesUpAndCleansUp(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let holder = try await h.session().mutex("t").lock()
        let session = try await h.session()
        let waiter = Task { try await session.mutex("t").lock(timeout: .seconds(5)) }
        try await h.waitForKeys("t/", count: 2)
        h.clock.advance(by: .seconds(5))
        await expectBatonError(.timeout) { try await waiter.value }
        #expect(try await h.keys("t/") == [holder.key.description])
        try await holder.unlock()
        await h.close()
    }
}

import Baton
import BatonCore
import Synchronization
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

    /// An unlock whose delete etcd applied but never answered, then that delete again, as the store would
    /// apply it if it landed late: after the session's next lock, it must take nothing. With etcd's
    /// recipe (the `unguardedUnlock` mutation: the session keeps its key name) it takes the new key.
    @Test(arguments: BackendKind.allCases)
    func anUnansweredUnlockRetiresTheKeyName(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        for mutations in [RecipeMutations(), .unguardedUnlock] {
            let environment = BatonEnvironment(clock: h.clock, random: RandomSource(seed: 2), mutations: mutations)
            let backend = FirstDeleteUnanswered(try h.client().backend)
            let session = try await BatonClient(backend: backend, environment: environment).session()
            let mutex = try session.mutex("jobs")
            let first = try await mutex.lock()
            #expect(first.key == Key("jobs/\(session.lease.hex)"))
            let unlock = Task { try await first.unlock() }
            await h.clock.waitForSleepers(1, within: .milliseconds(100))  // the retry's backoff
            h.clock.advance(by: .milliseconds(100))
            try await unlock.value  // the retry found the key gone: the unanswered delete took it
            let second = try await mutex.lock()
            let lateDelete = try await h.store.deleteRange(DeleteRangeRequest(.key(first.key)))
            if mutations.isEmpty {
                #expect(second.key == Key("jobs/\(session.lease.hex)-1"))
                #expect(lateDelete.deleted == 0)
                #expect(try await h.keys("jobs/") == [second.key.description])
                try await second.unlock()
            } else {
                #expect(second.key == first.key)
                #expect(lateDelete.deleted == 1)  // the defect: the next turn's key is gone
                await expectBatonError(.lockReleased) { try await second.unlock() }
            }
            try await session.close()
        }
        await h.close()
    }

    /// A name nobody holds is taken with one transaction guarded by the whole name being empty, which
    /// reads nothing; once a turn has found another key under the name, the next one goes straight to the
    /// create that reads its predecessor, until a turn finds the name free again.
    @Test(arguments: BackendKind.allCases)
    func aFreeNameIsTakenWithoutReadingAPredecessor(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let backend = TxnGuards(try h.client().backend)
        let environment = BatonEnvironment(clock: h.clock, random: RandomSource(seed: 2))
        let session = try await BatonClient(backend: backend, environment: environment).session()
        let mutex = try session.mutex("jobs")
        let stem = Key("jobs/\(session.lease.hex)")
        let name = KeyRange.prefix("jobs/"), own = KeyRange.interval(stem, stem.appending("."))

        let first = try await mutex.lock()
        #expect(first.key == stem)
        try await first.unlock()
        #expect(backend.take() == [name])

        // Each failed tryLock then deletes its waiter key, guarded by its create revision.
        let held = try await h.session().mutex("jobs").lock()
        await expectBatonError(.locked) { try await mutex.tryLock() }
        #expect(backend.take() == [name, own, .key(stem)])
        await expectBatonError(.locked) { try await mutex.tryLock() }
        #expect(backend.take() == [own, .key(stem)])

        try await held.unlock()
        try await mutex.lock().unlock()
        try await mutex.lock().unlock()
        #expect(backend.take() == [own, name])
        #expect(try await h.keys("jobs/").isEmpty)
        try await session.close()
        await h.close()
    }

    @Test(arguments: BackendKind.allCases)
    func aKeyAnEarlierTurnLeftBehindIsDeletedByTheNext(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let session = try await h.session()
        // A key of this session's under an earlier, retired name: what an unlock that never reached the
        // store leaves behind. And a key of another lease whose hex starts with this one's.
        let leftover = Key("jobs/\(session.lease.hex)-3"), other = Key("jobs/\(session.lease.hex)0")
        _ = try await h.store.put(PutRequest(key: leftover, lease: session.lease))
        let grant = try await session.mutex("jobs").tryLock()  // `locked` if it waited on its own key
        #expect(try await h.keys("jobs/") == [grant.key.description])
        try await grant.unlock()
        _ = try await h.store.put(PutRequest(key: other))
        await expectBatonError(.locked) { try await session.mutex("jobs").tryLock() }
        #expect(try await h.keys("jobs/") == [other.description])
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

/// Records the range each transaction's first compare guards.
private final class TxnGuards: ForwardingBackend {
    let store: any Backend
    private let guards = Mutex<[KeyRange]>([])
    init(_ store: any Backend) { self.store = store }

    func txn(_ request: TxnRequest) async throws -> TxnResponse {
        if let range = request.compare.first?.range { guards.withLock { $0.append(range) } }
        return try await store.txn(request)
    }

    /// The guards recorded since the last call.
    func take() -> [KeyRange] {
        guards.withLock { guards in
            defer { guards.removeAll() }
            return guards
        }
    }
}

/// A backend whose first delete is applied but answered with a timeout, as a store that applied it
/// after the client gave up would be.
private final class FirstDeleteUnanswered: ForwardingBackend {
    let store: any Backend
    private let answered = Mutex(false)
    init(_ store: any Backend) { self.store = store }

    func deleteRange(_ request: DeleteRangeRequest) async throws -> DeleteRangeResponse {
        let response = try await store.deleteRange(request)
        if answered.withLock({ (answered: inout Bool) -> Bool in
            defer { answered = true }
            return answered
        }) {
            return response
        }
        throw BatonError(.timeout, "the delete was applied, but its answer never came")
    }
}

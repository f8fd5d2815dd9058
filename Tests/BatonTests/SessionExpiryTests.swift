import Baton
import BatonCore
import Synchronization
import Testing

/// Lease expiry on a controlled clock: keys vanish, holders learn, scoped work is cancelled.
@Suite struct SessionExpiryTests {
    @Test func keepAlivesHoldTheLeaseAcrossManyTTLs() async throws {
        let renewals = AsyncStream<Int64>.makeStream()
        let h = try await Harness(
            .localByRequests,
            events: EventSink { event in
                if case .sessionRenewed(_, let ttl) = event { renewals.continuation.yield(ttl) }
            })
        let session = try await h.session(ttl: .seconds(3))
        let grant = try await session.mutex("k").lock()
        var renewed = renewals.stream.makeAsyncIterator()
        for _ in 0..<30 {  // 30 s of simulated time: ten TTLs
            h.clock.advance(by: .seconds(1))  // a keep-alive is due every second
            #expect(await renewed.next() == 3)
        }
        #expect(session.end == nil)
        #expect(try await h.store.leaseTimeToLive(session.lease, keys: false).ttl >= 2)
        #expect(try await h.keys("k/") == [grant.key.description])
        try await session.close()
        #expect(session.end == .closed)
        #expect(try await h.keys("k/").isEmpty)
        await h.close()
    }

    @Test func aLocalStoreHoldsASessionsLeaseWithoutRenewals() async throws {
        let renewals = Atomic(0)
        let h = try await Harness(
            .local,
            events: EventSink { event in
                if case .sessionRenewed = event { renewals.add(1, ordering: .relaxed) }
            })
        let session = try await h.session(ttl: .seconds(3))
        let grant = try await session.mutex("k").lock()
        h.clock.advance(by: .seconds(30))  // ten TTLs
        #expect(try await h.keys("k/") == [grant.key.description])
        #expect(try await h.store.leaseTimeToLive(session.lease, keys: false).ttl == 3)
        #expect(session.end == nil && grant.isHeld)
        #expect(renewals.load(ordering: .relaxed) == 0)
        #expect(h.clock.sleeperCount <= 1)  // at most the store's expiry timer: no session tasks
        await h.close()
    }

    @Test func anOrphanedLocalSessionsLeaseExpiresOneTTLAfterTheOrphaning() async throws {
        let h = try await Harness(.local)
        let session = try await h.session(ttl: .seconds(10))
        let lock = try await session.mutex("o").lock()
        h.clock.advance(by: .seconds(100))
        session.orphan()  // the next request already sees the lease counting down
        #expect(try await h.store.leaseTimeToLive(session.lease, keys: false).ttl == 10)
        h.clock.advance(by: .seconds(9))
        #expect(try await h.keys("o/") == [lock.key.description])
        h.clock.advance(by: .seconds(1))
        #expect(try await h.keys("o/").isEmpty)
        #expect(try await lock.lost().code == .lockLost)
        await h.close()
    }

    @Test func aRevokeEndsALocalSessionAtOnce() async throws {
        let h = try await Harness(.local)
        let session = try await h.session()
        let lock = try await session.mutex("r").lock()
        try await h.store.revokeLease(session.lease)
        #expect(session.end == .expired)
        #expect(try await lock.lost().code == .lockLost)
        await expectBatonError(.sessionExpired) { try await session.mutex("r").lock() }
        await h.close()
    }

    @Test func closingTheLocalStoreEndsItsSessions() async throws {
        let h = try await Harness(.local)
        let session = try await h.session()
        await h.store.close()
        #expect(session.end == .expired)
        await expectBatonError(.alreadyClosed) { try await h.client().session() }
        await h.close()
    }

    @Test func expiryRemovesKeysAndTellsEveryHolder() async throws {
        let h = try await Harness(.local)
        let session = try await h.session(ttl: .seconds(5))
        let lock = try await session.mutex("x").lock()
        let leadership = try await session.election("y").campaign("me")
        session.orphan()  // stop renewing, as a paused or partitioned process would
        h.clock.advance(by: .seconds(6))
        _ = try await h.store.range(RangeRequest(.key("any")))  // the store expires the lease
        #expect(try await h.keys("x/").isEmpty)
        #expect(try await h.keys("y/").isEmpty)
        #expect(try await lock.lost().code == .lockLost)
        #expect(try await leadership.lost().code == .lockLost)
        #expect(!lock.isHeld && !leadership.isLeader)
        await expectBatonError(.lockReleased) { try await lock.unlock() }
        await h.close()
    }

    @Test func clientSideDeadlineEndsTheSessionAsExpired() async throws {
        let h = try await Harness(.localByRequests)
        let session = try await h.session(ttl: .seconds(6))
        let lost = Task { try await session.mutex("d").lock().lost() }
        try await h.waitForKeys("d/", count: 1)
        // The server forgets the lease; the next keep-alive is told so.
        try await h.store.revokeLease(session.lease)
        h.clock.advance(by: .seconds(2))
        #expect(try await session.ended() == .expired)
        #expect(try await lost.value.code == .lockLost)
        await h.close()
    }

    @Test func withLockCancelsItsBodyWhenTheLockIsLost() async throws {
        let h = try await Harness(.local)
        let session = try await h.session(ttl: .seconds(5))
        let bodyCancelled = Atomic(false)
        let entered = AsyncStream<Void>.makeStream()
        let run = Task {
            try await session.mutex("w").withLock { _ in
                entered.continuation.yield()
                do {
                    _ = try await session.ended()  // parks until cancelled (or the session ends)
                    try await h.clock.sleep(for: .seconds(3600))
                } catch is CancellationError {
                    bodyCancelled.store(true, ordering: .relaxed)
                    throw CancellationError()
                }
            }
        }
        for await _ in entered.stream { break }
        try await h.store.revokeLease(session.lease)  // the key is deleted under the holder
        await expectBatonError(.lockLost) { try await run.value }
        let cancelled = bodyCancelled.load(ordering: .relaxed)
        #expect(cancelled)
        await h.close()
    }

    @Test func leadershipEndsOnExpiryAndTheNextCandidateLeads() async throws {
        let h = try await Harness(.local)
        let old = try await h.session(ttl: .seconds(5))
        let next = try await h.session(ttl: .seconds(60))
        let first = try await old.election("lead").campaign("old")
        let second = Task { try await next.election("lead").campaign("new") }
        try await h.waitForKeys("lead/", count: 2)
        old.orphan()
        h.clock.advance(by: .seconds(6))
        let leadership = try await second.value
        #expect(leadership.term > first.term)
        #expect(try await first.lost().code == .lockLost)
        await expectBatonError(.notLeader) { try await first.proclaim("still me?") }
        await h.close()
    }
}

import Baton
import BatonCore
import Testing

/// What users of distlock and elock had: refresh, retries with linear backoff, a maximum held time, and
/// a random hold after acquiring.
///
/// Before moving time, a test waits for the sleeper it expects to be registered: the one due within
/// the step (lease timers are due later).
@Suite struct LockOptionsTests {
    @Test func keepAliveOnceRenewsAndReportsExpiry() async throws {
        let h = try await Harness(.local)
        let session = try await h.session(ttl: .seconds(9))
        h.clock.advance(by: .seconds(2))
        #expect(try await session.keepAliveOnce() == .seconds(9))
        #expect(try await h.store.leaseTimeToLive(session.lease, keys: false).ttl == 9)
        try await h.store.revokeLease(session.lease)
        await expectBatonError(.sessionExpired) { try await session.keepAliveOnce() }
        #expect(session.end == .expired)
        await h.close()
    }

    @Test func tryLockRetriesWithLinearBackoff() async throws {
        let h = try await Harness(.local)
        let holder = try await h.session().mutex("r").lock()
        let session = try await h.session()
        let attempt = Task { try await session.mutex("r").tryLock(attempts: 3, backoff: .seconds(1)) }
        await h.clock.waitForSleepers(1, within: .seconds(1))  // the first backoff
        try await holder.unlock()
        h.clock.advance(by: .seconds(1))
        let grant = try await attempt.value
        #expect(grant.fencingToken > holder.fencingToken)
        try await grant.unlock()
        await h.close()
    }

    @Test func tryLockGivesUpAfterItsAttempts() async throws {
        let h = try await Harness(.local)
        let holder = try await h.session().mutex("r").lock()
        let session = try await h.session()
        let attempt = Task { try await session.mutex("r").tryLock(attempts: 2, backoff: .seconds(1)) }
        await h.clock.waitForSleepers(1, within: .seconds(1))  // the backoff
        h.clock.advance(by: .seconds(1))
        await expectBatonError(.locked) { try await attempt.value }
        #expect(try await h.keys("r/") == [holder.key.description])
        await expectBatonError(.invalidArgument) { try await session.mutex("r").tryLock(attempts: 0, backoff: .zero) }
        await h.close()
    }

    @Test func maxHeldCancelsTheBodyTellsTheHolderAndReleases() async throws {
        let h = try await Harness(.local)
        let session = try await h.session(ttl: .seconds(60))
        let run = Task {
            try await session.mutex("job").withLock(maxHeld: .seconds(5)) { _ in
                _ = try await session.ended()  // parks until cancelled
            }
        }
        try await h.waitForKeys("job/", count: 1)
        await h.clock.waitForSleepers(1, within: .seconds(5))  // the max-held timer
        h.clock.advance(by: .seconds(5))
        await expectBatonError(.timeout) { try await run.value }
        #expect(try await h.keys("job/").isEmpty)
        await h.close()
    }

    @Test func lingerKeepsTheLockForARandomTimeAfterTheBody() async throws {
        let h = try await Harness(.local)
        let session = try await h.session(ttl: .seconds(60))
        let run = Task {
            try await session.mutex("short").withLock(linger: .seconds(2)...Duration.seconds(2)) { grant in
                grant.fencingToken
            }
        }
        try await h.waitForKeys("short/", count: 1)
        await h.clock.waitForSleepers(1, within: .seconds(2))  // the linger
        #expect(try await h.keys("short/").count == 1)  // still held while lingering
        h.clock.advance(by: .seconds(2))
        _ = try await run.value
        #expect(try await h.keys("short/").isEmpty)
        await h.close()
    }
}

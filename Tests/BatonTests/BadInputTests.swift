import Baton
import BatonCore
import Testing

/// Bad input gets a clear BatonError, never a crash or a stuck waiter.
@Suite struct BadInputTests {
    @Test func badNamesAreRejected() async throws {
        let h = try await Harness(.local)
        let session = try await h.session()
        #expect(throws: BatonError.self) { try session.mutex("") }
        #expect(throws: BatonError.self) { try session.mutex("a\u{0}b") }
        #expect(throws: BatonError.self) { try session.election("") }
        do { _ = try session.mutex("") } catch let error as BatonError { #expect(error.code == .invalidArgument) }
        await h.close()
    }

    @Test(arguments: [Duration.zero, .seconds(-5), .seconds(9_000_000_001)])
    func badTTLsAreRejected(_ ttl: Duration) async throws {
        let h = try await Harness(.local)
        await expectBatonError(.invalidArgument) { try await h.client().session(ttl: ttl) }
        await h.close()
    }

    @Test func fractionalTTLsRoundUpToWholeSeconds() async throws {
        let h = try await Harness(.local)
        let session = try await h.session(ttl: .milliseconds(1500))
        #expect(session.ttl == .seconds(2))
        await h.close()
    }

    @Test func useAfterCloseFailsWithAlreadyClosed() async throws {
        let h = try await Harness(.local)
        let session = try await h.session()
        let mutex = try session.mutex("m")
        try await session.close()
        await expectBatonError(.alreadyClosed) { try await session.close() }
        await expectBatonError(.alreadyClosed) { try await mutex.lock() }
        await expectBatonError(.alreadyClosed) { try await mutex.tryLock() }
        await expectBatonError(.alreadyClosed) { try await session.election("e").campaign("v") }

        let client = try h.client()
        await client.close()
        await expectBatonError(.alreadyClosed) { try await client.session() }
        await expectBatonError(.alreadyClosed) { try await h.store.range(RangeRequest(.key("k"))) }
    }

    @Test func anExpiredSessionRefusesToLock() async throws {
        let h = try await Harness(.local)
        let session = try await h.session(ttl: .seconds(3))
        try await h.store.revokeLease(session.lease)
        h.clock.advance(by: .seconds(1))
        #expect(try await session.ended() == .expired)
        await expectBatonError(.sessionExpired) { try await session.mutex("m").lock() }
        await h.close()
    }

    @Test func aClosedClientOrphansItsSessions() async throws {
        let h = try await Harness(.local)
        let client = try h.client()
        let session = try await client.session()
        await client.close()
        #expect(session.end == .orphaned)
    }
}

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

    /// A time limit that has already run out is a caller's mistake, not a race to lose or win: before
    /// this was checked, `lock(timeout: -1s)` on a free name returned a grant, and a negative
    /// `maxHeld` or `linger` let the body run as if none were given.
    @Test func negativeTimeLimitsAreRejectedBeforeAnythingIsTaken() async throws {
        let h = try await Harness(.local)
        let session = try await h.session()
        // Each check on a name of its own, so that a lock wrongly taken by one cannot hold up the next.
        await expectBatonError(.invalidArgument) { try await session.mutex("a").lock(timeout: .seconds(-1)) }
        await expectBatonError(.invalidArgument) { try await session.mutex("b").withLock(maxHeld: .zero) { _ in 1 } }
        await expectBatonError(.invalidArgument) {
            try await session.mutex("c").withLock(maxHeld: .seconds(-1)) { _ in 1 }
        }
        await expectBatonError(.invalidArgument) {
            try await session.mutex("d").withLock(linger: .seconds(-2)...Duration.seconds(-1)) { _ in 1 }
        }
        await expectBatonError(.invalidArgument) {
            try await session.mutex("e").withLock(linger: .seconds(-1)...Duration.seconds(1)) { _ in 1 }
        }
        #expect(try await h.keys("").isEmpty, "a rejected call took a lock")

        // A zero timeout is a try: the free lock is taken, the held one times out at once.
        let mutex = try session.mutex("free")
        let grant = try await mutex.lock(timeout: .zero)
        await expectBatonError(.timeout) { try await h.session().mutex("free").lock(timeout: .zero) }
        #expect(try await h.keys("free/") == [grant.key.description])
        try await grant.unlock()
        // Limits that are valid still work.
        #expect(try await mutex.withLock(maxHeld: .seconds(1), linger: .zero...Duration.zero) { _ in 2 } == 2)
        await h.close()
    }

    /// A name or value over etcd's request limit fails alike on both backends, so code that runs on
    /// `local:` does not first fail in production (the local store used to take a 2 MB lock name).
    @Test(arguments: BackendKind.allCases)
    func requestsOverEtcdsSizeLimitFailAlikeOnEveryBackend(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let session = try await h.session()
        let hugeName = String(repeating: "n", count: 2_000_000)
        await expectBatonError(.invalidArgument) { try await session.mutex(hugeName).lock() }
        await expectBatonError(.invalidArgument) { try await session.election("e").campaign(hugeName) }
        let hugeValue = [UInt8](repeating: 1, count: maximumRequestBytes + 1)
        await expectBatonError(.invalidArgument) { try await h.store.put(PutRequest(key: "k", value: hugeValue)) }
        #expect(try await h.keys("").isEmpty)
        // Just under the limit is fine locally; etcd adds its encoding's bytes, so stay clear of the edge there.
        let large = [UInt8](repeating: 1, count: maximumRequestBytes - 64 * 1024)
        _ = try await h.store.put(PutRequest(key: "k", value: large))
        #expect(try await h.store.range(RangeRequest(.key("k"))).kvs.first?.value.count == large.count)
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

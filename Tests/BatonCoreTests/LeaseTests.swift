import Testing

@testable import BatonCore

@Suite struct LeaseTests {
    @Test func storeChosenIDsCountUpSkipTakenAndAreNeverReused() throws {
        var store = StoreMachine()
        #expect(try store.grantLease(ttl: 5, id: nil, now: .zero) == LeaseGrant(id: LeaseID(1), ttl: 5))
        #expect(try store.grantLease(ttl: 5, id: LeaseID(3), now: .zero).id == LeaseID(3))
        #expect(try store.grantLease(ttl: 5, id: nil, now: .zero).id == LeaseID(2))
        #expect(try store.grantLease(ttl: 5, id: nil, now: .zero).id == LeaseID(4))
        _ = try store.revokeLease(LeaseID(1))
        #expect(try store.grantLease(ttl: 5, id: LeaseID(0), now: .zero).id == LeaseID(5))
        expectError(.leaseExists) { try store.grantLease(ttl: 5, id: LeaseID(3), now: .zero) }
        #expect(try store.grantLease(ttl: 5, id: LeaseID(1), now: .zero).id == LeaseID(1))
        #expect(store.leases == [1, 2, 3, 4, 5].map(LeaseID.init))
    }

    @Test(arguments: [0, -1, maximumLeaseTTL + 1, Int64.min])
    func grantRejectsTTLOutOfRange(ttl: Int64) {
        var store = StoreMachine()
        expectError(.invalidArgument) { try store.grantLease(ttl: ttl, id: nil, now: .zero) }
        #expect(store.leases.isEmpty)
    }

    @Test func grantAcceptsTheExtremeTTLs() throws {
        var store = StoreMachine()
        _ = try store.grantLease(ttl: 1, id: nil, now: .zero)
        let long = try store.grantLease(ttl: maximumLeaseTTL, id: nil, now: .seconds(1))
        #expect(try store.leaseTimeToLive(long.id, keys: false, now: .seconds(1)).ttl == maximumLeaseTTL)
        #expect(store.nextLeaseExpiry == .seconds(1))
    }

    @Test func timeToLiveRoundsUpAndStopsAtZero() throws {
        var store = StoreMachine()
        let id = try store.grantLease(ttl: 10, id: nil, now: .seconds(100)).id
        func ttl(_ now: Duration) throws -> Int64 { try store.leaseTimeToLive(id, keys: false, now: now).ttl }
        #expect(try ttl(.seconds(100)) == 10)
        #expect(try ttl(.milliseconds(100_500)) == 10)
        #expect(try ttl(.seconds(103)) == 7)
        #expect(try ttl(.milliseconds(109_999)) == 1)
        #expect(try ttl(.seconds(110)) == 0)
        #expect(try ttl(.seconds(500)) == 0)
        #expect(try store.leaseTimeToLive(id, keys: false, now: .seconds(103)).grantedTTL == 10)
        expectError(.leaseNotFound) { try store.leaseTimeToLive(LeaseID(42), keys: false, now: .zero) }
    }

    @Test func keepAliveRenewsFromNow() throws {
        var store = StoreMachine()
        let id = try store.grantLease(ttl: 10, id: nil, now: .zero).id
        #expect(try store.keepAliveLease(id, now: .seconds(8)) == 10)
        #expect(store.nextLeaseExpiry == .seconds(18))
        #expect(try store.leaseTimeToLive(id, keys: false, now: .seconds(9)).ttl == 9)
        #expect(store.expireLeases(now: .seconds(17)).isEmpty)
        expectError(.leaseNotFound) { try store.keepAliveLease(LeaseID(2), now: .zero) }
    }

    @Test func aPinnedLeaseNeverExpiresUntilUnpinned() throws {
        var store = StoreMachine()
        let pinned = try store.grantLease(ttl: 10, id: nil, now: .zero).id
        let plain = try store.grantLease(ttl: 20, id: nil, now: .zero).id
        try store.pinLease(pinned, now: .seconds(5))
        try store.pinLease(pinned, now: .seconds(5))  // again: no change
        #expect(store.nextLeaseExpiry == .seconds(20))  // only the plain lease is in the expiry order
        #expect(store.expireLeases(now: .seconds(1000)) == [plain])
        #expect(try store.leaseTimeToLive(pinned, keys: false, now: .seconds(1000)).ttl == 10)
        #expect(try store.keepAliveLease(pinned, now: .seconds(1000)) == 10)

        store.unpinLease(pinned, since: .seconds(1000))
        store.unpinLease(pinned, since: .seconds(2000))  // not pinned any more: no change
        #expect(store.nextLeaseExpiry == .seconds(1010))
        #expect(try store.leaseTimeToLive(pinned, keys: false, now: .seconds(1004)).ttl == 6)
        #expect(store.expireLeases(now: .seconds(1009)).isEmpty)
        #expect(store.expireLeases(now: .seconds(1010)) == [pinned])
        store.unpinLease(pinned, since: .zero)  // gone: nothing to do
        #expect(store.leases.isEmpty)
    }

    @Test func onlyALiveLeaseCanBePinned() throws {
        var store = StoreMachine()
        let id = try store.grantLease(ttl: 10, id: nil, now: .zero).id
        expectError(.leaseNotFound) { try store.pinLease(id, now: .seconds(10)) }
        expectError(.leaseNotFound) { try store.pinLease(LeaseID(99), now: .zero) }
        try store.pinLease(id, now: .seconds(9))
        _ = try store.revokeLease(id)
        #expect(store.nextLeaseExpiry == nil)
        #expect(store.leases.isEmpty)
    }

    @Test func anExpiredLeaseCannotBeKeptAlive() throws {
        var store = StoreMachine()
        let id = try store.grantLease(ttl: 10, id: nil, now: .zero).id
        expectError(.leaseNotFound) { try store.keepAliveLease(id, now: .seconds(10)) }
        // Still listed until expireLeases runs.
        #expect(store.leases == [id])
        #expect(store.expireLeases(now: .seconds(10)) == [id])
        #expect(store.leases.isEmpty)
        expectError(.leaseNotFound) { try store.keepAliveLease(id, now: .seconds(10)) }
    }

    @Test func revokeDeletesAllAttachedKeysInOneRevision() throws {
        var store = StoreMachine()
        let id = try store.grantLease(ttl: 10, id: nil, now: .zero).id
        let other = try store.grantLease(ttl: 10, id: nil, now: .zero).id
        try store.put("s/c", lease: id)
        try store.put("s/a", lease: id)
        try store.put("s/b", lease: id)
        try store.put("s/other", lease: other)
        try store.put("plain")
        let keys = try store.leaseTimeToLive(id, keys: true, now: .zero).keys
        #expect(keys == ["s/a", "s/b", "s/c"])
        #expect(try store.leaseTimeToLive(id, keys: false, now: .zero).keys.isEmpty)
        let (watch, _) = try store.watch(WatchRequest(.prefix("s/")))
        #expect(try store.revokeLease(id) == 7)
        #expect(store.revision == 7)
        #expect(try store.everything().map(\.key) == ["plain", "s/other"])
        let deliveries = store.takeDeliveries()
        #expect(deliveries.count == 1)
        #expect(deliveries.first?.watch == watch)
        #expect(deliveries.first?.response.events.map(\.kind) == [.delete, .delete, .delete])
        #expect(deliveries.first?.response.events.map(\.kv.key) == ["s/a", "s/b", "s/c"])
        #expect(store.leases == [other])
        expectError(.leaseNotFound) { try store.revokeLease(id) }
        expectError(.leaseNotFound) { try store.put("s/x", lease: id) }
    }

    @Test func revokingALeaseWithoutKeysDoesNotAdvance() throws {
        var store = StoreMachine()
        let id = try store.grantLease(ttl: 10, id: nil, now: .zero).id
        try store.put("a")
        #expect(try store.revokeLease(id) == 2)
        #expect(store.revision == 2)
    }

    @Test func keysFollowTheirLatestLease() throws {
        var store = StoreMachine()
        let first = try store.grantLease(ttl: 10, id: nil, now: .zero).id
        let second = try store.grantLease(ttl: 10, id: nil, now: .zero).id
        try store.put("moved", lease: first)
        try store.put("moved", lease: second)
        try store.put("detached", lease: first)
        try store.put("detached")
        try store.put("deleted", lease: first)
        _ = try store.deleteRange(DeleteRangeRequest(.key("deleted")))
        try store.put("deleted")
        #expect(try store.leaseTimeToLive(first, keys: true, now: .zero).keys.isEmpty)
        #expect(try store.leaseTimeToLive(second, keys: true, now: .zero).keys == ["moved"])
        let revision = store.revision
        #expect(try store.revokeLease(first) == revision)
        #expect(try store.everything().map(\.key) == ["deleted", "detached", "moved"])
        #expect(try store.get("moved")?.lease == second)
        _ = try store.revokeLease(second)
        #expect(try store.everything().map(\.key) == ["deleted", "detached"])
    }

    @Test func leaseZeroMeansNoLease() throws {
        var store = StoreMachine()
        try store.put("a", lease: LeaseID(0))
        #expect(try store.get("a")?.lease == nil)
    }

    @Test func expiryRevokesInExpiryThenIDOrderOneRevisionEach() throws {
        var store = StoreMachine()
        let late = try store.grantLease(ttl: 10, id: nil, now: .zero).id  // 1, expires 10
        let tieHigh = try store.grantLease(ttl: 5, id: LeaseID(7), now: .zero).id  // expires 5
        let tieLow = try store.grantLease(ttl: 5, id: nil, now: .zero).id  // 2, expires 5
        let early = try store.grantLease(ttl: 4, id: LeaseID(9), now: .seconds(0)).id  // expires 4
        let keyless = try store.grantLease(ttl: 3, id: nil, now: .zero).id  // 3, expires 3
        #expect(store.nextLeaseExpiry == .seconds(3))
        for (key, lease) in [("k/late", late), ("k/high", tieHigh), ("k/low", tieLow), ("k/early", early)] {
            try store.put(Key(key), lease: lease)
        }
        _ = try store.watch(WatchRequest(.prefix("k/")))
        #expect(store.expireLeases(now: .milliseconds(2_999)).isEmpty)
        #expect(store.revision == 5)
        #expect(store.expireLeases(now: .seconds(5)) == [keyless, early, tieLow, tieHigh])
        #expect(store.revision == 8)
        let deliveries = store.takeDeliveries()
        #expect(deliveries.map(\.response.revision) == [6, 7, 8])
        #expect(deliveries.map { $0.response.events.map(\.kv.key) } == [["k/early"], ["k/low"], ["k/high"]])
        #expect(store.leases == [late])
        #expect(store.nextLeaseExpiry == .seconds(10))
        #expect(store.expireLeases(now: .seconds(5)).isEmpty)
        #expect(store.expireLeases(now: .seconds(60)) == [late])
        #expect(store.nextLeaseExpiry == nil)
        #expect(try store.everything().isEmpty)
    }

    @Test func theTableRoundsDurations() {
        #expect(LeaseTable.wholeSecondsRoundedUp(.zero) == 0)
        #expect(LeaseTable.wholeSecondsRoundedUp(.seconds(-3)) == 0)
        #expect(LeaseTable.wholeSecondsRoundedUp(.nanoseconds(1)) == 1)
        #expect(LeaseTable.wholeSecondsRoundedUp(.seconds(2)) == 2)
        #expect(LeaseTable.wholeSecondsRoundedUp(.seconds(2) + .nanoseconds(1)) == 3)
    }
}

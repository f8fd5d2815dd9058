import BatonCore
import BatonEtcd
import BatonTestSupport
import Testing

/// Lease grant, keep-alive, time-to-live, revoke and expiry against a real etcd.
@Suite(.enabled(if: EtcdServer.isEnabled))
struct EtcdLeaseTests {
    @Test func grantKeepAliveTimeToLiveRevoke() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }

        let lease = try await gateway.grantLease(ttl: 30, id: nil)
        #expect(lease.ttl == 30)
        #expect(lease.id.rawValue > 0)
        _ = try await gateway.put(PutRequest(key: "l/b", lease: lease.id))
        _ = try await gateway.put(PutRequest(key: "l/a", lease: lease.id))
        _ = try await gateway.put(PutRequest(key: "other"))

        #expect(try await gateway.keepAliveLease(lease.id) == 30)
        let live = try await gateway.leaseTimeToLive(lease.id, keys: true)
        #expect(live.id == lease.id && live.grantedTTL == 30 && (28...30).contains(live.ttl))
        #expect(live.keys == ["l/a", "l/b"])
        #expect(try await gateway.leaseTimeToLive(lease.id, keys: false).keys.isEmpty)

        let before = try await gateway.range(RangeRequest(.prefix(""))).revision
        try await gateway.revokeLease(lease.id)
        let after = try await gateway.range(RangeRequest(.prefix("")))
        #expect(after.kvs.map(\.key) == ["other"])
        #expect(after.revision == before + 1, "a revoke deletes every attached key in one revision")

        await expectBatonError(.leaseNotFound) { try await gateway.revokeLease(lease.id) }
        await expectBatonError(.leaseNotFound) { _ = try await gateway.keepAliveLease(lease.id) }
        await expectBatonError(.leaseNotFound) { _ = try await gateway.leaseTimeToLive(lease.id, keys: false) }
        await expectBatonError(.leaseNotFound) { _ = try await gateway.put(PutRequest(key: "x", lease: lease.id)) }
    }

    @Test func grantWithAChosenID() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        // Above 2^53: must survive JSON as a string.
        let id = LeaseID(0x2040_a1ff_682d_89a2)
        let lease = try await gateway.grantLease(ttl: 5, id: id)
        #expect(lease.id == id)
        #expect(id.hex == "2040a1ff682d89a2")
        await expectBatonError(.leaseExists) { _ = try await gateway.grantLease(ttl: 5, id: id) }
        // etcd raises a TTL below its minimum.
        #expect(try await gateway.grantLease(ttl: 1, id: nil).ttl >= 1)
        await expectBatonError(.invalidArgument) { _ = try await gateway.grantLease(ttl: maximumLeaseTTL + 1, id: nil) }
    }

    @Test func anExpiredLeaseIsNotFound() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gateway = try etcd.gateway()
        defer { gateway.closeSoon() }
        // Two seconds, so that a stalled machine does not lose the lease before the put.
        let lease = try await gateway.grantLease(ttl: 2, id: nil)
        let put = try await gateway.put(PutRequest(key: "ephemeral", lease: lease.id))
        // No sleeping: the expiry deletes the key, and the watch sees that delete. It starts right
        // after the put, so an expiry before the watch is registered is not missed.
        let events = try await gateway.watch(WatchRequest(.key("ephemeral"), startRevision: put.revision + 1))
        var iterator = events.makeAsyncIterator()
        let deletion = try #require(try await iterator.next())
        #expect(deletion.events.map(\.kind) == [.delete])
        await expectBatonError(.leaseNotFound) { _ = try await gateway.keepAliveLease(lease.id) }
        await expectBatonError(.leaseNotFound) { _ = try await gateway.leaseTimeToLive(lease.id, keys: true) }
    }
}

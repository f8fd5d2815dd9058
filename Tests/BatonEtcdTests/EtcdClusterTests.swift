import BatonCore
import BatonEtcd
import BatonTestSupport
import Testing

/// A three-member cluster: calls and watches carry on through the other members when one is killed.
@Suite(.enabled(if: EtcdServer.isEnabled), .serialized)
struct EtcdClusterTests {
    @Test func killingTheUsedMemberFailsOverCallsAndWatches() async throws {
        let cluster = try await EtcdCluster.start()
        defer { cluster.destroy() }
        // The gateway uses its first endpoint: make that a follower, so that killing it costs no
        // election (during one, etcd holds proposals for up to its own 7 s request timeout).
        let leader = try #require(await cluster.leader())
        let followers = cluster.members.filter { $0 !== leader }
        let endpoints = [followers[0].clientURL, leader.clientURL, followers[1].clientURL]
        let gateway = try EtcdGateway(configuration: EtcdConfiguration(endpoints: endpoints, dialTimeout: .seconds(1)))
        defer { gateway.closeSoon() }
        let stream = try await gateway.watch(WatchRequest(.prefix("c/")))
        var iterator = stream.makeAsyncIterator()
        _ = try await gateway.put(PutRequest(key: "c/1"))
        #expect(try await iterator.next()?.events.map(\.kv.key) == ["c/1"])

        await followers[0].kill()
        // Written while the watch is cut off: it must arrive once the watch has reconnected elsewhere.
        let during = try await gateway.put(PutRequest(key: "c/2"))
        let after = try await gateway.put(PutRequest(key: "c/3"))
        #expect(after.revision == during.revision + 1)
        var keys: [Key] = []
        while keys.count < 2, let response = try await iterator.next() { keys += response.events.map(\.kv.key) }
        #expect(keys == ["c/2", "c/3"])

        // The killed member comes back on its data directory and catches up.
        try await followers[0].restart()
        let survivor = try EtcdGateway(configuration: EtcdConfiguration(endpoints: [followers[0].clientURL]))
        defer { survivor.closeSoon() }
        #expect(try await survivor.range(RangeRequest(.prefix("c/"))).count == 3)
    }
}

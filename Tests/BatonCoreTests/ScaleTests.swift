import Testing

@testable import BatonCore

/// Lock handoffs with 100,000 waiters under one prefix: the owner and predecessor queries must be
/// index seeks. Each query's `examined` count (key-values the plan looked at) proves it: a scan would
/// examine up to 100,000; a seek examines at most `limit + 1`.
@Suite struct ScaleTests {
    static let waiters = 100_000

    @Test func ownerAndPredecessorQueriesAreSeeksWith100kWaiters() throws {
        var store = StoreMachine()
        try store.put("lock0", "a neighbour past the prefix")
        // Waiter keys are not in create order by key: their hex suffixes are shuffled.
        var random = SplitMix64(seed: 2024)
        var suffixes = Array(0..<Self.waiters)
        suffixes.shuffle(using: &random)
        for suffix in suffixes {
            try store.put(Key("lock/").appending(String(suffix, radix: 16)))
        }
        try store.put("lock/", "a key equal to the prefix")
        let firstWaiter: Int64 = 3
        #expect(store.revision == firstWaiter + Int64(Self.waiters))

        func owner() -> (RangeResponse, Int) {
            let request = RangeRequest(.prefix("lock/"), limit: 1, sortOrder: .ascend, sortTarget: .create)
            let (response, examined) = store.keyspace.read(request, during: nil)
            return (response, examined)
        }
        func predecessor(of revision: Int64) -> (RangeResponse, Int) {
            let request = RangeRequest(
                .interval("lock/", "lock0"), limit: 1, sortOrder: .descend, sortTarget: .create,
                maxCreateRevision: revision - 1)
            return store.keyspace.read(request, during: nil)
        }

        var handedOff = 0
        for round in 0..<1_000 {
            let (ownerResponse, ownerExamined) = owner()
            let ownerKV = try #require(ownerResponse.kvs.first)
            #expect(ownerKV.createRevision == firstWaiter + Int64(round))
            #expect(ownerExamined <= 2)
            #expect(ownerResponse.count == Self.waiters + 1 - round)
            #expect(ownerResponse.more)
            // Some waiter deep in the queue looks for the key just before its own.
            let waiter = firstWaiter + Int64(round) + 1 + Int64(round * 97 % (Self.waiters - 1_000))
            let (predecessorResponse, predecessorExamined) = predecessor(of: waiter)
            #expect(predecessorResponse.kvs.map(\.createRevision) == [waiter - 1])
            #expect(predecessorExamined <= 2)
            // The first waiter has no predecessor.
            #expect(predecessor(of: ownerKV.createRevision).0.kvs.isEmpty)
            // Unlock: the owner deletes its key, handing the lock to the next waiter.
            let deleted = try store.deleteRange(DeleteRangeRequest(.key(ownerKV.key)))
            handedOff += deleted.deleted
        }
        #expect(handedOff == 1_000)
        // The public API answers the same, and counts stay exact without a scan.
        let countOnly = try store.range(
            RangeRequest(.prefix("lock/"), sortOrder: .ascend, sortTarget: .create, countOnly: true))
        #expect(countOnly.count == Self.waiters + 1 - 1_000)
        let keyOrdered = store.keyspace.read(RangeRequest(.prefix("lock/"), limit: 3), during: nil)
        #expect(keyOrdered.examined <= 4)
        #expect(keyOrdered.response.count == Self.waiters + 1 - 1_000)
        #expect(keyOrdered.response.kvs.first?.key == "lock/")
    }
}

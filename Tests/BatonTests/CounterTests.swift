import Baton
import BatonCore
import Synchronization
import Testing

/// A plain, deliberately unsynchronised counter: the lock under test is its only protection.
// @unchecked Sendable: the DistributedMutex is the synchronisation being tested
final class UnsafeCounter: @unchecked Sendable {
    var value = 0
}

/// Counts how many critical sections are running at once.
final class OverlapDetector: Sendable {
    private let inside = Atomic(0)
    private let worst = Atomic(0)
    func enter() {
        let now = inside.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
        worst.max(now, ordering: .sequentiallyConsistent)
    }
    func exit() { inside.wrappingSubtract(1, ordering: .sequentiallyConsistent) }
    var maximumConcurrency: Int { worst.load(ordering: .sequentiallyConsistent) }
}

/// Seed 004's example: 1000 tasks, each with its own session, increment one counter under one lock.
@Suite struct CounterTests {
    /// 1000 tasks on local:; on etcd 200, sharing one gateway as one process would (each waiter holds
    /// two streaming watch connections while it waits). The sessions' keep-alives sleep on the
    /// harness's manual clock, which this test never advances, while etcd expires leases on its own
    /// clock: the TTL is long enough that no lease runs out on a busy machine, where this test has taken
    /// 20 s (and once failed, with a 10 s TTL).
    @Test(arguments: BackendKind.allCases)
    func thousandSessionsIncrementACounterUnderOneLock(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let counter = UnsafeCounter(), overlaps = OverlapDetector()
        let store = h.store
        let tasks = kind == .local ? 1000 : 200
        let client = BatonClient(backend: store, environment: h.environment)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    let session = try await client.session(ttl: .seconds(120))
                    try await session.mutex("mylock").withLock { grant in
                        overlaps.enter()
                        let read = counter.value
                        _ = try await store.range(RangeRequest(.key(grant.key)))  // suspend mid-update
                        counter.value = read + 1
                        overlaps.exit()
                    }
                    try await session.close()
                }
            }
            try await group.waitForAll()
        }
        #expect(counter.value == tasks)
        #expect(overlaps.maximumConcurrency == 1)
        #expect(try await h.keys("mylock/").isEmpty)
        await h.close()
    }
}

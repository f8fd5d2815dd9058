import Baton

/// A plain counter incremented inside the critical section: the mutex under test is its only
/// protection, so a count that disagrees with the cycles run means mutual exclusion failed.
final class BenchCounter: @unchecked Sendable {  // @unchecked: the mutex being measured is the synchronisation
    var value = 0
}

/// One lock + critical section + unlock, the unit every throughput figure counts.
protocol BenchCycle: Sendable {
    func cycle(_ counter: BenchCounter) async throws
}

/// A cycle of the floor mutex: two crossings to its actor, the increment in the caller's task.
struct FloorCycle: BenchCycle {
    let mutex: FloorMutex
    func cycle(_ counter: BenchCounter) async throws {
        try await mutex.lock()
        counter.value &+= 1
        await mutex.unlock()
    }
}

/// A cycle of Baton's mutex on the local store, used the same way.
struct BatonCycle: BenchCycle {
    let mutex: DistributedMutex
    func cycle(_ counter: BenchCounter) async throws {
        let grant = try await mutex.lock()
        counter.value &+= 1
        try await grant.unlock()
    }
}

/// The two requests of a lock + unlock, sent by hand without the recipe: a create of the waiter key, then
/// a delete of that key by name.
struct RecipeRequests: Sendable {
    /// Which create the requests send.
    enum Create: Sendable {
        /// Baton's uncontended turn: create the key if no key at all is under the name.
        case ifNameFree
        /// etcd's lock transaction (and Baton's when the name was busy): if the session has no key
        /// under the name, read the newest key and create the waiter key.
        case readingPredecessor
    }

    let backend: any Backend
    let create: TxnRequest
    let delete: DeleteRangeRequest

    /// The requests for the key of `lease` under `prefix` (a lock name's prefix, ending in `/`), built
    /// as the recipe builds them.
    init(_ backend: any Backend, prefix: Key, lease: LeaseID, create: Create) {
        let key = prefix.appending(lease.hex)
        self.backend = backend
        switch create {
        case .ifNameFree:
            self.create = .createIfNameFree(key, under: prefix, value: [], lease: lease)
        case .readingPredecessor:
            self.create = .createReadingNewest(
                key, under: prefix, own: .keyNames(of: key), value: [], lease: lease)
        }
        self.delete = DeleteRangeRequest(.key(key))
    }

    /// Sends the transaction, then the delete.
    func send() async throws {
        _ = try await backend.txn(create)
        _ = try await backend.deleteRange(delete)
    }
}

/// A cycle of the recipe's two requests, sent by hand to a store.
struct RecipeRequestsCycle: BenchCycle {
    let requests: RecipeRequests
    func cycle(_ counter: BenchCounter) async throws {
        try await requests.send()
        counter.value &+= 1
    }
}

/// What a timed run counted.
struct BenchRate: Sendable {
    /// Cycles per second over the measured window.
    var rate: Double
    /// Cycles completed in the measured window.
    var cycles: Int
    /// Whether every counter equals the cycles run on it (mutual exclusion held).
    var exact: Bool
}

/// Runs one task per worker, each repeating its cycle, for `warmup` and then `duration`, and counts
/// the cycles that started inside the measured window.
///
/// Each worker watches the clock itself (every 16th cycle while cycles take under a microsecond, so
/// that reading it costs the floor under 2%; every cycle otherwise): uncontended workers never really suspend, so a coordinator sleeping on a timer could be
/// starved of a thread until they stop, which they never would.
func benchRate<C: BenchCycle>(
    _ workers: [(cycle: C, counter: BenchCounter)], warmup: Duration, duration: Duration
) async throws -> BenchRate {
    let clock = ContinuousClock()
    let start = clock.now.advanced(by: warmup), end = start.advanced(by: duration)
    let counts = try await withThrowingTaskGroup(of: (total: Int, measured: Int).self) { group in
        for worker in workers {
            group.addTask {
                var total = 0, measured = 0, measuring = false
                var checkAt = 0, checked = (instant: clock.now, total: 0)
                while true {
                    if total >= checkAt {
                        let now = clock.now
                        if now >= end { break }
                        measuring = now >= start
                        // Cycles under a microsecond: look again in 16; slower ones: every cycle.
                        let fast = checked.instant.duration(to: now) < .microseconds(total - checked.total)
                        checkAt = total + (fast ? 16 : 1)
                        checked = (now, total)
                    }
                    try await worker.cycle.cycle(worker.counter)
                    total += 1
                    if measuring { measured += 1 }
                }
                return (total, measured)
            }
        }
        var counts: [(total: Int, measured: Int)] = []
        for try await count in group { counts.append(count) }
        return counts
    }
    let window = start.duration(to: end)
    var counters: [ObjectIdentifier: BenchCounter] = [:]
    for worker in workers { counters[ObjectIdentifier(worker.counter)] = worker.counter }
    let total = counts.reduce(0) { $0 + $1.total }, measured = counts.reduce(0) { $0 + $1.measured }
    let incremented = counters.values.reduce(0) { $0 + $1.value }
    return BenchRate(rate: Double(measured) / window.benchSeconds, cycles: measured, exact: incremented == total)
}

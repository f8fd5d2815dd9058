import Baton
import BatonScenarios

/// How much work each benchmark does: `full` is what the README reports; `quick` and `tiny` scale it
/// down (`tiny` is for the test that checks the output).
struct BenchSize: Sendable {
    var name: String
    /// Each throughput figure is the best of `repeats` runs of `duration`, each after `warmup`.
    var duration: Duration
    var warmup: Duration
    var repeats: Int
    /// The queue lengths handoffs are timed at, and how many handoffs to time at each: at full size,
    /// a tenth of the longest queue, so that its p50 spans a quarter second of handoffs, not a few
    /// milliseconds that one burst of load on the machine can fill.
    var handoffQueues: [Int]
    var handoffSamples: Int
    var electionSamples: Int
    /// How many locks, sessions and waiters the memory probes create.
    var memoryCount: Int
    /// How many seeds of the mixed scenario the simulator figures run.
    var simulationSeeds: UInt64 = 100

    static let full = BenchSize(
        name: "full", duration: .milliseconds(500), warmup: .milliseconds(100), repeats: 3,
        handoffQueues: [10, 1_000, 100_000], handoffSamples: 10_000, electionSamples: 500, memoryCount: 100_000)
    static let quick = BenchSize(
        name: "quick", duration: .milliseconds(200), warmup: .milliseconds(50), repeats: 2,
        handoffQueues: [10, 1_000, 10_000], handoffSamples: 300, electionSamples: 100, memoryCount: 10_000,
        simulationSeeds: 20)
    static let tiny = BenchSize(
        name: "tiny", duration: .milliseconds(20), warmup: .milliseconds(5), repeats: 1,
        handoffQueues: [2, 10], handoffSamples: 10, electionSamples: 3, memoryCount: 100, simulationSeeds: 2)
    static let all = [full, quick, tiny]
}

/// The `local:` benchmarks, in the order they are reported.
struct LocalBench {
    let size: BenchSize

    /// Every benchmark by name (selectable with `--only`).
    var all: [(name: String, run: () async throws -> [BenchRow])] {
        [
            ("local.lock_unlock", lockUnlock), ("local.handoff", handoff), ("local.contended", contended),
            ("local.session", session), ("local.election_handoff", electionHandoff), ("local.memory", memory),
            ("sim", simulation),
        ]
    }

    /// Uncontended lock + unlock on one name with a reused session, against the floor; and, to show
    /// what the store's part of that costs, the two store requests of such a cycle sent by hand.
    func lockUnlock() async throws -> [BenchRow] {
        let client = try await BatonClient.connect("local:")
        let session = try await client.session()
        let mutex = try session.mutex("bench")
        let requests = RecipeRequests(
            client.backend, prefix: "bench-requests/", lease: session.lease, create: .ifNameFree)
        let (floor, baton) = try await bestRates(
            floor: { [(FloorCycle(mutex: FloorMutex()), BenchCounter())] },
            baton: { [(BatonCycle(mutex: mutex), BenchCounter())] })
        // The floor runs again only to alternate with the requests, as it did with the lock.
        let (_, store) = try await bestRates(
            floor: { [(FloorCycle(mutex: FloorMutex()), BenchCounter())] },
            baton: { [(RecipeRequestsCycle(requests: requests), BenchCounter())] })
        await client.close()
        var row = BenchRow(
            name: "local.lock_unlock", variant: "1 task, 1 name, reused session", value: baton.rate, unit: "cycles/s",
            samples: baton.cycles, baseline: floor.rate, target: "ratio <= 3")
        row.met = row.ratio.map { $0 <= 3 }
        let part = BenchRow(
            name: "local.lock_unlock", variant: "its 2 store requests alone, sent by hand", value: store.rate,
            unit: "cycles/s", samples: store.cycles, baseline: floor.rate)
        return [row, part]
    }

    /// Cycles per second with many tasks, each with its own session, on one name or on one name each.
    func contended() async throws -> [BenchRow] {
        var rows: [BenchRow] = []
        for (tasks, names) in [(8, 1), (64, 1), (64, 64)] {
            let client = try await BatonClient.connect("local:")
            var mutexes: [DistributedMutex] = []
            for task in 0..<tasks { mutexes.append(try await client.session().mutex("bench-\(task % names)")) }
            let (floor, baton) = try await bestRates(
                floor: {
                    let floors = (0..<names).map { _ in (FloorMutex(), BenchCounter()) }
                    return (0..<tasks).map { (FloorCycle(mutex: floors[$0 % names].0), floors[$0 % names].1) }
                },
                baton: {
                    let counters = (0..<names).map { _ in BenchCounter() }
                    return mutexes.indices.map { (BatonCycle(mutex: mutexes[$0]), counters[$0 % names]) }
                })
            await client.close()
            rows.append(
                BenchRow(
                    name: "local.contended", variant: "\(tasks) tasks, \(names == 1 ? "1 name" : "\(names) names")",
                    value: baton.rate, unit: "cycles/s", samples: baton.cycles, baseline: floor.rate))
        }
        return rows
    }

    /// Sessions created and closed per second, by one task and by eight.
    func session() async throws -> [BenchRow] {
        var rows: [BenchRow] = []
        for tasks in [1, 8] {
            let client = try await BatonClient.connect("local:")
            var best = BenchRate(rate: 0, cycles: 0, exact: true)
            for _ in 0..<size.repeats {
                let run = try await benchRate(
                    (0..<tasks).map { _ in (SessionCycle(client: client), BenchCounter()) },
                    warmup: size.warmup, duration: size.duration)
                if run.rate > best.rate { best = run }
            }
            await client.close()
            rows.append(
                BenchRow(
                    name: "local.session", variant: "create + close, \(tasks) task\(tasks == 1 ? "" : "s")",
                    value: best.rate, unit: "sessions/s", samples: best.cycles))
        }
        return rows
    }

    /// Handoff latency at each queue length, against the floor, and how flat it stays.
    func handoff() async throws -> [BenchRow] {
        var rows: [BenchRow] = [], setups: [BenchRow] = []
        for waiters in size.handoffQueues {
            let bench = HandoffBench(waiters: waiters, samples: size.handoffSamples)
            BenchProcess.progress(
                "  local.handoff waiters=\(waiters): \(bench.rounds) round(s), \(bench.perRound) timed each")
            let floor = BenchStatistics(try await bench.floor())
            let (latencies, sessions, queue) = try await bench.baton()
            let baton = BenchStatistics(latencies)
            BenchProcess.progress(
                "    \(waiters) sessions in \(BenchFormat.fixed(sessions.benchSeconds, digits: 2)) s, "
                    + "queued in \(BenchFormat.fixed(queue.benchSeconds, digits: 2)) s")
            rows.append(
                BenchRow(
                    name: "local.handoff", variant: "waiters=\(waiters), p50", value: baton.median, unit: "ns",
                    p99: baton.p99, samples: baton.count, baseline: floor.median))
            setups.append(
                BenchRow(
                    name: "local.handoff.setup", variant: "create \(waiters) sessions", value: sessions.benchSeconds,
                    unit: "s"))
            setups.append(
                BenchRow(
                    name: "local.handoff.setup", variant: "queue \(waiters) waiters, until quiet",
                    value: queue.benchSeconds, unit: "s"))
        }
        if rows.count > 1, let first = rows.first, let last = rows.last {
            let flatness = last.value / first.value
            rows.append(
                BenchRow(
                    name: "local.handoff",
                    variant: "flatness: p50 at \(size.handoffQueues.last!) / p50 at \(size.handoffQueues.first!)",
                    value: flatness, unit: "x", target: "<= 1.5", met: flatness <= 1.5))
        }
        return rows + setups
    }

    /// Leader resign → the next leader observed, and → the next campaign returning.
    func electionHandoff() async throws -> [BenchRow] {
        let (observed, campaigned) = try await ElectionBench(samples: size.electionSamples).run()
        let seen = BenchStatistics(observed), won = BenchStatistics(campaigned)
        return [
            BenchRow(
                name: "local.election_handoff", variant: "resign -> observe() reports next leader, p50",
                value: seen.median, unit: "ns", p99: seen.p99, samples: seen.count),
            BenchRow(
                name: "local.election_handoff", variant: "resign -> next campaign() returns, p50",
                value: won.median, unit: "ns", p99: won.p99, samples: won.count),
        ]
    }

    /// Resident bytes per held lock, per session and per queued waiter, each in a fresh process.
    func memory() async throws -> [BenchRow] {
        let count = size.memoryCount
        let held = try MemoryBench.measure(.held, count: count)
        let waiters = try MemoryBench.measure(.waiters, count: count)
        let waitersInWithLock = try MemoryBench.measure(.waitersInWithLock, count: count)
        let floorHeld = try MemoryBench.measure(.floorHeld, count: count)
        let floorWaiters = try MemoryBench.measure(.floorWaiters, count: count)
        func figure(_ figures: [String: Double], _ key: String) throws -> Double {
            guard let value = figures[key] else { throw BenchFailure("memory probe reported no \(key)") }
            return value
        }
        return [
            BenchRow(
                name: "local.memory", variant: "per held lock (\(count) names, 1 session)",
                value: try figure(held, "held"), unit: "bytes", samples: count, baseline: try figure(floorHeld, "held")),
            BenchRow(
                name: "local.memory", variant: "per queued waiter (\(count) on 1 name), excl. its session",
                value: try figure(waiters, "waiter"), unit: "bytes", samples: count,
                baseline: try figure(floorWaiters, "waiter")),
            BenchRow(
                name: "local.memory", variant: "the same, each waiting in withLock",
                value: try figure(waitersInWithLock, "waiter"), unit: "bytes", samples: count,
                baseline: try figure(floorWaiters, "waiter")),
            BenchRow(
                name: "local.memory", variant: "per idle session (\(count) sessions)",
                value: try figure(waiters, "session"), unit: "bytes", samples: count),
        ]
    }

    /// The simulator's figures: seeds of the mixed scenario (every fault kind, mutexes and elections),
    /// run back to back on this thread and timed on the wall clock.
    func simulation() async throws -> [BenchRow] {
        let sweep = Sweep.run(.mixed, seeds: 1...size.simulationSeeds, clock: ContinuousClock())
        guard sweep.failures.isEmpty else {
            throw BenchFailure("the mixed scenario failed: \(sweep.failures.map(\.seed))")
        }
        let real = Double(sweep.realTime.components.seconds) + Double(sweep.realTime.components.attoseconds) / 1e18
        return [
            BenchRow(
                name: "sim.jobs", variant: "scheduler jobs/s, mixed scenario", value: sweep.jobsPerSecond,
                unit: "jobs/s",
                samples: sweep.jobs),
            BenchRow(
                name: "sim.seeds", variant: "mixed scenario seeds/s", value: Double(sweep.seeds) / real,
                unit: "seeds/s",
                samples: sweep.seeds),
            BenchRow(
                name: "sim.ratio", variant: "simulated : real time, mixed scenario", value: sweep.ratio, unit: "x",
                samples: sweep.seeds),
        ]
    }

    /// The best of `size.repeats` runs of the floor and of Baton, interleaved so that a burst of load
    /// from elsewhere on the machine hits both alike. Throws if a counter shows two holders at once.
    private func bestRates<F: BenchCycle, B: BenchCycle>(
        floor: () -> [(cycle: F, counter: BenchCounter)], baton: () -> [(cycle: B, counter: BenchCounter)]
    ) async throws -> (floor: BenchRate, baton: BenchRate) {
        var bestFloor = BenchRate(rate: 0, cycles: 0, exact: true), bestBaton = bestFloor
        for _ in 0..<size.repeats {
            let f = try await benchRate(floor(), warmup: size.warmup, duration: size.duration)
            let b = try await benchRate(baton(), warmup: size.warmup, duration: size.duration)
            guard f.exact, b.exact else {
                throw BenchFailure("a counter disagrees with the cycles run: mutual exclusion failed")
            }
            if f.rate > bestFloor.rate { bestFloor = f }
            if b.rate > bestBaton.rate { bestBaton = b }
        }
        return (bestFloor, bestBaton)
    }
}

/// One session created and closed.
struct SessionCycle: BenchCycle {
    let client: BatonClient
    func cycle(_ counter: BenchCounter) async throws {
        try await client.session(ttl: .seconds(60)).close()
        counter.value &+= 1
    }
}

import Baton

/// Options of one simulation run.
public struct SimulationOptions: Sendable {
    /// How the network behaves outside faults.
    public var network = NetworkConditions()
    /// Faults applied from the start (drift when nodes are added; timed faults at their times).
    public var faultPlan = FaultPlan()
    /// Recipe bugs planted in every node's environment (to prove the oracles catch them).
    public var mutations: RecipeMutations = []
    /// How strongly the scheduler prefers the most recently readied job (see ``Scheduler/newestBias``);
    /// `nil` lets each seed draw it: uniform for half the seeds, 0.5 or 0.9 for a quarter each.
    public var newestBias: Double?
    /// Whether to keep the trace's lines (the hash is always computed).
    public var recordTrace = false
    /// The run fails with `liveness` if the body has not returned by this simulated time.
    public var timeLimit: Duration = .seconds(3600)
    /// After the body returns, how long the run may take to go quiet before leftovers are reported.
    public var drainLimit: Duration = .seconds(300)

    /// Creates options with the defaults.
    public init() {}
}

/// A deterministic simulation of Baton clients, a server and the network between them.
///
/// ```swift
/// let report = Simulation(seed: 42).run { world in
///     world.addClient("c1") { node in
///         let session = try await node.client.session(ttl: .seconds(5))
///         …
///         try await session.close()
///     }
///     _ = await world.waitForPrograms()
/// }
/// #expect(report.violations.isEmpty)
/// ```
///
/// ``run(_:)`` drives the simulation on the calling thread until the body returns and every node goes
/// quiet; the same seed, options, body and binary give the same run — the same ``SimulationReport/traceHash``.
public struct Simulation: Sendable {
    /// The seed every random choice is drawn from (split into workload, scheduling, network, fault
    /// and per-node streams).
    public var seed: UInt64
    /// The run's options.
    public var options: SimulationOptions

    /// Creates a simulation.
    public init(seed: UInt64, options: SimulationOptions = SimulationOptions()) {
        self.seed = seed
        self.options = options
    }

    /// Runs `body` on the simulation's control node, then drains and checks the run.
    ///
    /// Blocks the calling thread while it drives the simulation (call it from a test or a command,
    /// never from inside another simulation). The report lists every failed property: oracle
    /// violations, the body or a program throwing, the body not returning by the time limit, tasks
    /// left behind, and jobs that escaped the scheduler.
    public func run(_ body: @escaping @Sendable (SimulationWorld) async throws -> Void) -> SimulationReport {
        let world = SimulationWorld(seed: seed, options: options)
        return world.execute(body)
    }
}

/// What one simulation run did and found.
public struct SimulationReport: Sendable {
    /// The run's seed.
    public var seed: UInt64
    /// The fault plan the run applied from the start.
    public var plan: FaultPlan
    /// Every failed property, in order (empty when the run passed).
    public var violations: [Violation]
    /// Jobs the scheduler ran.
    public var jobs: Int
    /// Simulated time at the end.
    public var simulatedTime: Duration
    /// Hash of the trace and of the job schedule: equal for equal runs.
    public var traceHash: UInt64
    /// The trace's lines (empty unless ``SimulationOptions/recordTrace``).
    public var trace: [String]
    /// Jobs that arrived from outside the scheduler (counted as a violation when not 0).
    public var foreignJobs: Int
    /// How often unfenced mutual exclusion broke (two holders inside by their own belief).
    public var unfencedOverlaps: Int
    /// Requests sent and messages dropped.
    public var messages: Int, dropped: Int
    /// Lock grants and leaderships reported by the workload.
    public var grants: Int, leaderships: Int
    /// Writes the fenced resources accepted and rejected.
    public var fencedAccepted: Int, fencedRejected: Int

    /// Whether every property held.
    public var passed: Bool { violations.isEmpty }
    /// ``traceHash`` as 16 hex digits.
    public var traceHashHex: String { hex16(traceHash) }
}

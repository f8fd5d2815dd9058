import Baton
import BatonSimulation

/// A seeded fault-injection scenario: a workload, the faults a seed draws for it, and the oracles
/// that judge the run.
///
/// Everything about a run follows from its seed: the workload's shape (how many clients, their TTLs,
/// how long they hold), the fault plan (drawn swarm-style), the interleaving. A plan given explicitly
/// (a printed or shrunk one) replaces the drawn plan; nothing else changes.
public struct Scenario: Sendable {
    /// What one seed of a scenario runs: options, the swarm shape faults are drawn from, and the body.
    public struct Setup: Sendable {
        /// Network conditions and limits (the fault plan and mutations are filled in by ``Scenario/run(seed:plan:mutations:recordTrace:)``).
        public var options: SimulationOptions
        /// What swarm-generated plans for this seed look like.
        public var faults: FaultPlan.SwarmShape
        /// The simulation body.
        public var body: @Sendable (SimulationWorld) async throws -> Void
    }

    /// The scenario's name on the command line.
    public let name: String
    /// One line on what it exercises.
    public let summary: String
    let setup: @Sendable (UInt64) -> Setup

    /// Creates a scenario from a function of the seed.
    public init(name: String, summary: String, setup: @escaping @Sendable (UInt64) -> Setup) {
        self.name = name
        self.summary = summary
        self.setup = setup
    }

    /// The fault plan `seed` draws for this scenario.
    public func plan(seed: UInt64) -> FaultPlan {
        FaultPlan.swarm(seed: seed, shape: setup(seed).faults)
    }

    /// Runs one seed. `plan` replaces the drawn fault plan (for replay and shrinking).
    public func run(seed: UInt64, plan: FaultPlan? = nil, mutations: RecipeMutations = [], recordTrace: Bool = false)
        -> SimulationReport
    {
        let setup = self.setup(seed)
        var options = setup.options
        options.faultPlan = plan ?? FaultPlan.swarm(seed: seed, shape: setup.faults)
        options.mutations = mutations
        options.recordTrace = recordTrace
        return Simulation(seed: seed, options: options).run(setup.body)
    }
}

/// The scenario catalogue.
public enum Scenarios {
    /// Every scenario, in the order `baton simulate` runs them.
    public static let all: [Scenario] = [
        .mutexContention, .electionObservers, .sessionExpiry, .partitionHeal, .mixed, .lockTimeout,
    ]

    /// The scenario named `name`, if any.
    public static func named(_ name: String) -> Scenario? { all.first { $0.name == name } }
}

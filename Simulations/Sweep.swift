import Baton
import BatonSimulation

/// Runs many seeds of a scenario and sums up: what `baton simulate` prints per scenario and what a
/// benchmark reads (jobs, seeds, simulated and real time).
public struct Sweep: Sendable {
    /// One failed seed.
    public struct Failure: Sendable {
        /// The seed.
        public var seed: UInt64
        /// The plan the seed ran with.
        public var plan: FaultPlan
        /// What failed.
        public var violations: [Violation]
    }

    /// The scenario swept.
    public var scenario: String
    /// Seeds run.
    public var seeds = 0
    /// Failed seeds, in seed order.
    public var failures: [Failure] = []
    /// Jobs run by the scheduler, summed over seeds.
    public var jobs = 0
    /// Simulated time, summed over seeds.
    public var simulatedTime = Duration.zero
    /// Wall-clock time the sweep took, measured on the clock the caller passed.
    public var realTime = Duration.zero
    /// Unfenced mutual-exclusion breaks, fenced writes rejected, grants and leaderships, summed.
    public var unfencedOverlaps = 0, fencedRejected = 0, grants = 0, leaderships = 0
    /// Seeds whose two runs differed (only with `checkDeterminism`).
    public var nondeterministic: [UInt64] = []

    /// Simulated seconds per real second.
    public var ratio: Double { realTime > .zero ? seconds(simulatedTime) / seconds(realTime) : 0 }
    /// Jobs per real second.
    public var jobsPerSecond: Double { realTime > .zero ? Double(jobs) / seconds(realTime) : 0 }

    /// Creates an empty sweep of `scenario`.
    public init(scenario: String) { self.scenario = scenario }

    /// Runs `seeds` of `scenario`, timing the whole sweep on `clock` (pass a wall clock; the
    /// simulation itself never reads it). With `checkDeterminism` every seed runs twice and any
    /// difference in trace hash, job count or findings is recorded.
    public static func run<C: Clock>(
        _ scenario: Scenario, seeds: some Sequence<UInt64>, mutations: RecipeMutations = [],
        checkDeterminism: Bool = false, clock: C
    ) -> Sweep where C.Duration == Duration {
        var sweep = Sweep(scenario: scenario.name)
        let start = clock.now
        for seed in seeds {
            let report = scenario.run(seed: seed, mutations: mutations)
            sweep.add(report)
            if checkDeterminism {
                let again = scenario.run(seed: seed, mutations: mutations)
                if again.traceHash != report.traceHash || again.jobs != report.jobs
                    || again.violations != report.violations
                {
                    sweep.nondeterministic.append(seed)
                }
            }
        }
        sweep.realTime = start.duration(to: clock.now)
        return sweep
    }

    /// Adds one run's numbers.
    public mutating func add(_ report: SimulationReport) {
        seeds += 1
        jobs += report.jobs
        simulatedTime += report.simulatedTime
        unfencedOverlaps += report.unfencedOverlaps
        fencedRejected += report.fencedRejected
        grants += report.grants
        leaderships += report.leaderships
        if !report.passed {
            failures.append(Failure(seed: report.seed, plan: report.plan, violations: report.violations))
        }
    }

    /// Adds another sweep of the same scenario (run on another thread); real time is the longer one.
    public mutating func merge(_ other: Sweep) {
        seeds += other.seeds
        jobs += other.jobs
        simulatedTime += other.simulatedTime
        realTime = max(realTime, other.realTime)
        unfencedOverlaps += other.unfencedOverlaps
        fencedRejected += other.fencedRejected
        grants += other.grants
        leaderships += other.leaderships
        failures = (failures + other.failures).sorted { $0.seed < $1.seed }
        nondeterministic = (nondeterministic + other.nondeterministic).sorted()
    }
}

/// A duration in seconds as a floating-point number.
public func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

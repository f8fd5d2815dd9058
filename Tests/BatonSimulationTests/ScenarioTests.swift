import Baton
import BatonScenarios
import BatonSimulation
import Testing

/// Sweeps small seed ranges of every scenario; the big sweeps are `baton simulate`'s job.
struct ScenarioTests {
    @Test(arguments: Scenarios.all.map(\.name))
    func aSmallSweepPasses(_ name: String) async throws {
        let scenario = try #require(Scenarios.named(name))
        for seed in UInt64(1)...4 {
            let report = await offPool { scenario.run(seed: seed) }
            #expect(report.passed, "\(name) seed \(seed): \(report.violations)")
            #expect(report.foreignJobs == 0)
            #expect(report.grants + report.leaderships > 0, "the workload did something")
        }
    }

    @Test func theSameSeedGivesTheSameTraceHash() async {
        let first = await offPool { Scenario.mixed.run(seed: 11) }
        let second = await offPool { Scenario.mixed.run(seed: 11) }
        #expect(first.traceHash == second.traceHash)
        #expect(first.jobs == second.jobs)
        let recorded = await offPool { Scenario.mixed.run(seed: 11, recordTrace: true) }
        #expect(recorded.traceHash == first.traceHash, "recording the trace must not change the run")
        #expect(!recorded.trace.isEmpty)
    }

    @Test func differentSeedsGiveDifferentRuns() async {
        var hashes: Set<UInt64> = []
        for seed in UInt64(1)...6 {
            hashes.insert(await offPool { Scenario.mutexContention.run(seed: seed) }.traceHash)
        }
        #expect(hashes.count == 6)
    }

    @Test func aPlanGivenExplicitlyReplacesTheDrawnOne() async throws {
        let plan = try #require(FaultPlan("pause:c1@2000ms+6000ms"))
        let report = await offPool { Scenario.sessionExpiry.run(seed: 3, plan: plan) }
        #expect(report.plan == plan)
        #expect(report.passed, "\(report.violations)")
    }

    @Test func stalePausedHoldersAreFencedOut() async {
        var rejected = 0, overlaps = 0
        for seed in UInt64(1)...12 {
            let report = await offPool { Scenario.sessionExpiry.run(seed: seed) }
            #expect(report.passed, "seed \(seed): \(report.violations)")
            rejected += report.fencedRejected
            overlaps += report.unfencedOverlaps
        }
        #expect(overlaps > 0, "pauses past the TTL must make unfenced mutual exclusion break (Jepsen)")
        #expect(rejected > 0, "and the fenced resource must reject the stale holders' writes")
    }

    @Test func shrinkingKeepsTheFailureAndMakesThePlanSmaller() async throws {
        let scenario = Scenario.sessionExpiry
        let report = await offPool { scenario.run(seed: 9, mutations: .noRecheck) }
        let violation = try #require(report.violations.first)
        let shrunk = try #require(
            Shrinker.shrink(
                scenario, seed: 9, plan: report.plan, mutations: .noRecheck, oracle: violation.oracle, budget: 40))
        #expect(shrunk.plan.faults.count < report.plan.faults.count)
        #expect(shrunk.violation.oracle == violation.oracle)
        let replayed = await offPool { scenario.run(seed: 9, plan: shrunk.plan, mutations: .noRecheck) }
        #expect(!replayed.passed)
    }

    @Test func lockTimeoutThrowsTimeoutNotCancellation() async {
        // Seed 1 caught lock(timeout:) rethrowing its cancelled child's CancellationError (fixed in c8e4b4c).
        let report = await offPool { Scenario.lockTimeout.run(seed: 1) }
        #expect(report.passed, "\(report.violations)")
    }
}

/// Every planted recipe bug must be caught within a bounded number of seeds.
struct MutationTests {
    static let cases: [(mutation: String, scenario: String, seeds: ClosedRange<UInt64>)] = [
        // Bounds leave room: about 80%, 7% and 5% of these scenarios' seeds catch each (500-seed sweeps).
        ("unguarded-campaign", "election", 1...20),
        ("no-recheck", "expiry", 1...80),
        ("unguarded-unlock", "mixed", 1...120),
    ]

    @Test(arguments: cases.map(\.mutation))
    func eachMutationIsCaught(_ name: String) async throws {
        let entry = try #require(MutationTests.cases.first { $0.mutation == name })
        let mutation = try #require(RecipeMutations.byName.first { $0.name == name }).mutation
        let scenario = try #require(Scenarios.named(entry.scenario))
        var caught: UInt64?
        for seed in entry.seeds where !(await offPool { scenario.run(seed: seed, mutations: mutation) }.passed) {
            caught = seed
            break
        }
        #expect(caught != nil, "\(name) was not caught by \(entry.scenario) seeds \(entry.seeds)")
    }
}

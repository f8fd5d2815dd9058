import Baton
import BatonScenarios
import BatonSimulation
import Foundation

/// `baton simulate`: runs seeded fault-injection scenarios against the simulated backend and checks
/// every oracle. Prints one line per scenario, failures with their replay command and shrunk plan,
/// and last a summary line. Exits 0 only if no oracle failed.
func runSimulate(_ arguments: [String]) async -> Int32 {
    let options: SimulateOptions
    switch SimulateOptions.parse(arguments) {
    case .success(let parsed): options = parsed
    case .failure(let error):
        if !error.message.isEmpty { print("simulate: \(error.message)") }
        print(SimulateOptions.usage)
        return 2
    }
    if options.list {
        for scenario in Scenarios.all { print("\(scenario.name): \(scenario.summary)") }
        return 0
    }
    if options.trace { return printTrace(options) }

    let clock = ContinuousClock()
    let start = clock.now
    var total = Sweep(scenario: "all")
    var failed = 0
    for scenario in options.scenarios {
        let sweep = await sweep(scenario, options)
        total.merge(sweep)
        failed += report(sweep, scenario, options)
    }
    let wall = start.duration(to: clock.now)
    total.realTime = wall
    // The summary's rates are the whole sweep's; say how many simulations ran side by side.
    let lanes = options.lanes
    if lanes > 1 {
        let perLane = format(total.jobsPerSecond / Double(lanes), 0)
        print("lanes: \(lanes) simulations at a time (--parallel); \(perLane) jobs/s per lane")
    }
    print(
        "simulate: \(total.seeds) seeds, \(failed) failed, \(total.jobs) jobs (\(format(total.jobsPerSecond, 0)) jobs/s), "
            + "\(format(seconds(total.simulatedTime), 1)) simulated s in \(format(seconds(wall), 2)) s (\(format(total.ratio, 0))x real time)"
    )
    return failed == 0 ? 0 : 1
}

/// Runs the chosen seeds of `scenario`, `options.parallel` simulations at a time.
private func sweep(_ scenario: Scenario, _ options: SimulateOptions) async -> Sweep {
    let clock = ContinuousClock()
    let start = clock.now
    // Seeds are dealt to lanes, never listed; the options guarantee that `last` does not overflow.
    let first = options.startSeed, last = options.seeds == 0 ? nil : options.startSeed + (options.seeds - 1)
    let lanes = options.lanes
    let plan = options.plan, mutations = options.mutations, twice = options.checkDeterminism
    var sweep = Sweep(scenario: scenario.name)
    await withTaskGroup(of: Sweep.self) { group in
        for lane in 0..<lanes {
            group.addTask {
                var part = Sweep(scenario: scenario.name)
                // This lane's seeds: every `lanes`-th from `first + lane` through `last`. The step
                // past `last` may overflow UInt64; it ends the lane.
                var seed = first + UInt64(lane)
                while let last, seed <= last {
                    let report = scenario.run(seed: seed, plan: plan, mutations: mutations)
                    part.add(report)
                    if twice {
                        let again = scenario.run(seed: seed, plan: plan, mutations: mutations)
                        if again.traceHash != report.traceHash || again.jobs != report.jobs
                            || again.violations != report.violations
                        {
                            part.nondeterministic.append(seed)
                        }
                    }
                    let (after, overflow) = seed.addingReportingOverflow(UInt64(lanes))
                    if overflow { break }
                    seed = after
                }
                return part
            }
        }
        for await part in group { sweep.merge(part) }
    }
    sweep.realTime = start.duration(to: clock.now)
    return sweep
}

/// Prints a scenario's line and its failures (shrinking the first); returns how many seeds failed.
private func report(_ sweep: Sweep, _ scenario: Scenario, _ options: SimulateOptions) -> Int {
    let failedSeeds = Set(sweep.failures.map(\.seed)).union(sweep.nondeterministic)
    for seed in sweep.nondeterministic {
        print("FAIL \(scenario.name) seed \(seed): not deterministic (two runs differed)")
        print("  replay: \(options.replay(scenario.name, seed: seed, plan: options.plan)) --trace")
    }
    for (index, failure) in sweep.failures.prefix(options.reports).enumerated() {
        let first = failure.violations[0]
        print("FAIL \(scenario.name) seed \(failure.seed): \(first)")
        for more in failure.violations.dropFirst().prefix(2) { print("  also: \(more)") }
        print("  plan: \(failure.plan)")
        print("  replay: \(options.replay(scenario.name, seed: failure.seed, plan: options.plan))")
        guard index == 0, options.shrink, !failure.plan.faults.isEmpty else { continue }
        if let shrunk = Shrinker.shrink(
            scenario, seed: failure.seed, plan: failure.plan, mutations: options.mutations, oracle: first.oracle,
            budget: options.shrinkBudget)
        {
            let before = failure.plan.weight, after = shrunk.plan.weight
            print(
                "  shrunk in \(shrunk.runs) runs from \(before.faults) faults (\(before.milliseconds) ms) to \(after.faults) (\(after.milliseconds) ms): \(shrunk.plan)"
            )
            print("  shrunk failure: \(shrunk.violation)")
            print("  replay: \(options.replay(scenario.name, seed: failure.seed, plan: shrunk.plan))")
        }
    }
    if sweep.failures.count > options.reports {
        let rest = sweep.failures.dropFirst(options.reports).map { String($0.seed) }
        print(
            "  … and \(rest.count) more failing seeds: \(rest.prefix(30).joined(separator: " "))\(rest.count > 30 ? " …" : "")"
        )
    }
    print(
        "\(scenario.name): \(sweep.seeds) seeds, \(failedSeeds.count) failed, \(sweep.jobs) jobs, "
            + "\(format(seconds(sweep.simulatedTime), 1)) simulated s in \(format(seconds(sweep.realTime), 2)) s, "
            + "\(sweep.grants) grants, \(sweep.leaderships) leaderships, \(sweep.unfencedOverlaps) unfenced overlaps, "
            + "\(sweep.fencedRejected) fenced writes rejected")
    return failedSeeds.count
}

/// `--trace`: runs one seed recording its trace, prints it, and last its hash.
private func printTrace(_ options: SimulateOptions) -> Int32 {
    let scenario = options.scenarios[0]
    let report = scenario.run(
        seed: options.startSeed, plan: options.plan, mutations: options.mutations, recordTrace: true)
    print("scenario \(scenario.name) seed \(report.seed) plan: \(report.plan)")
    for line in report.trace { print(line) }
    for violation in report.violations { print("FAIL \(violation)") }
    print(
        "jobs: \(report.jobs), simulated: \(format(seconds(report.simulatedTime), 6)) s, messages: \(report.messages)")
    print("trace-hash: \(report.traceHashHex)")
    return report.passed ? 0 : 1
}

private func format(_ value: Double, _ places: Int) -> String { String(format: "%.\(places)f", value) }

import Baton
import BatonScenarios
import BatonSimulation

/// The arguments of `baton simulate`.
struct SimulateOptions {
    var scenarios: [Scenario] = Scenarios.all
    var seeds: UInt64 = 100
    var startSeed: UInt64 = 1
    var plan: FaultPlan?
    var mutationNames: [String] = []
    var mutations: RecipeMutations = []
    var trace = false
    var checkDeterminism = false
    var parallel = 2
    /// Simulations that actually run side by side: `parallel`, but no more than there are seeds.
    var lanes: Int { max(1, min(parallel, Int(clamping: seeds))) }
    var shrink = true
    var shrinkBudget = 120
    var reports = 3
    var list = false

    static let usage = """
        usage: baton simulate [--scenario NAME|all] [--seeds N] [--start-seed S] [--seed S]
                              [--plan 'PLAN'] [--mutation NAME]... [--trace] [--check-determinism]
                              [--parallel N] [--no-shrink] [--shrink-budget N] [--reports N] [--list]
          --scenario           one of \(Scenarios.all.map(\.name).joined(separator: ", ")), or all (default)
          --seeds, --start-seed  run seeds S..<S+N of every chosen scenario (default 1, 100)
          --seed S             run only seed S (with --trace: print its trace and trace-hash)
          --plan 'PLAN'        replace the seed's drawn fault plan (as printed on failures)
          --mutation NAME      plant a recipe bug: \(RecipeMutations.byName.map(\.name).joined(separator: ", "))
          --check-determinism  run every seed twice; any difference fails
          --parallel N         simulations run at once (default 2)
          --reports N          failing seeds printed in detail per scenario (default 3); the first is shrunk
        """

    /// Parses `arguments`; returns an error message for bad ones.
    static func parse(_ arguments: [String]) -> Result<SimulateOptions, SimulateUsageError> {
        var options = SimulateOptions()
        var index = 0
        func value(_ flag: String) throws(SimulateUsageError) -> String {
            index += 1
            guard index < arguments.count else { throw SimulateUsageError("\(flag) needs a value") }
            return arguments[index]
        }
        func number<N: FixedWidthInteger>(_ flag: String, _: N.Type) throws(SimulateUsageError) -> N {
            let text = try value(flag)
            guard let parsed = N(text) else { throw SimulateUsageError("\(flag): not a number: \(text)") }
            return parsed
        }
        func number<N: FixedWidthInteger>(_ flag: String, _: N.Type, atLeast minimum: N) throws(SimulateUsageError) -> N
        {
            let parsed = try number(flag, N.self)
            guard parsed >= minimum else {
                throw SimulateUsageError("\(flag) must be at least \(minimum), got \(parsed)")
            }
            return parsed
        }
        do throws(SimulateUsageError) {
            var singleSeed: UInt64?
            while index < arguments.count {
                let flag = arguments[index]
                switch flag {
                case "--scenario":
                    let name = try value(flag)
                    if name == "all" {
                        options.scenarios = Scenarios.all
                    } else if let scenario = Scenarios.named(name) {
                        options.scenarios = [scenario]
                    } else {
                        throw SimulateUsageError("unknown scenario \(name)")
                    }
                case "--seeds": options.seeds = try number(flag, UInt64.self)
                case "--start-seed": options.startSeed = try number(flag, UInt64.self)
                case "--seed": singleSeed = try number(flag, UInt64.self)
                case "--plan":
                    let text = try value(flag)
                    guard let plan = FaultPlan(text) else { throw SimulateUsageError("--plan: cannot parse \(text)") }
                    options.plan = plan
                case "--mutation":
                    let name = try value(flag)
                    guard let mutation = RecipeMutations.byName.first(where: { $0.name == name }) else {
                        throw SimulateUsageError("unknown mutation \(name)")
                    }
                    options.mutationNames.append(name)
                    options.mutations.insert(mutation.mutation)
                case "--trace": options.trace = true
                case "--check-determinism": options.checkDeterminism = true
                case "--parallel": options.parallel = try number(flag, Int.self, atLeast: 1)
                case "--no-shrink": options.shrink = false
                case "--shrink-budget": options.shrinkBudget = try number(flag, Int.self, atLeast: 0)
                case "--reports": options.reports = try number(flag, Int.self, atLeast: 0)
                case "--list": options.list = true
                case "-h", "--help": throw SimulateUsageError("")
                default: throw SimulateUsageError("unknown argument \(flag)")
                }
                index += 1
            }
            if let singleSeed {
                options.startSeed = singleSeed
                options.seeds = 1
            }
            if options.seeds > 0, options.startSeed.addingReportingOverflow(options.seeds - 1).overflow {
                throw SimulateUsageError(
                    "--start-seed \(options.startSeed) with --seeds \(options.seeds) passes the last seed, \(UInt64.max)"
                )
            }
            if options.trace && (options.scenarios.count != 1 || options.seeds != 1) {
                throw SimulateUsageError("--trace needs one --scenario and one --seed")
            }
            if options.plan != nil && options.scenarios.count != 1 {
                throw SimulateUsageError("--plan needs one --scenario")
            }
            return .success(options)
        } catch {
            return .failure(error)
        }
    }

    /// The command that replays `seed` of `scenario` with these mutations (and `plan`, if given).
    func replay(_ scenario: String, seed: UInt64, plan: FaultPlan?) -> String {
        var command = "baton simulate --scenario \(scenario) --seed \(seed)"
        for name in mutationNames { command += " --mutation \(name)" }
        if let plan { command += " --plan '\(plan)'" }
        return command
    }
}

/// A bad command line.
struct SimulateUsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

import Baton
import BatonSimulation

/// Shrinks a failing fault plan: greedily tries smaller plans (a fault removed, a fault shorter or
/// milder) on the same seed and keeps the first that still fails the same way, until none does or
/// the budget of runs is spent.
///
/// The workload and the interleaving draw from streams independent of the fault stream, so removing
/// a fault leaves the workload's own choices unchanged.
public enum Shrinker {
    /// The outcome of shrinking.
    public struct Result: Sendable {
        /// The smallest plan found that still fails with the same oracle.
        public var plan: FaultPlan
        /// Its first violation.
        public var violation: Violation
        /// Runs spent.
        public var runs: Int
    }

    /// Shrinks `plan` for `seed` of `scenario`. `oracle` is the property that failed (a candidate must
    /// fail it too). Returns `nil` if the plan does not fail `oracle` to begin with.
    public static func shrink(
        _ scenario: Scenario, seed: UInt64, plan: FaultPlan, mutations: RecipeMutations = [], oracle: String,
        budget: Int = 120
    ) -> Result? {
        func failing(_ candidate: FaultPlan) -> Violation? {
            scenario.run(seed: seed, plan: candidate, mutations: mutations).violations.first { $0.oracle == oracle }
        }
        guard var violation = failing(plan) else { return nil }
        var current = plan, runs = 1
        var improved = true
        while improved, runs < budget {
            improved = false
            for candidate in current.shrinkCandidates {
                guard runs < budget else { break }
                runs += 1
                if let found = failing(candidate) {
                    current = candidate
                    violation = found
                    improved = true
                    break
                }
            }
        }
        return Result(plan: current, violation: violation, runs: runs)
    }
}

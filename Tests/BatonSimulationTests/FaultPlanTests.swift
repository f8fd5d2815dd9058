import Baton
import BatonSimulation
import Testing

struct FaultPlanTests {
    @Test func printedPlansParseBackExactly() throws {
        let text =
            "pause:c2@3200ms+7500ms; crash:c4@20000ms+5000ms; crash:c1@1000ms; partition-out:c1@10000ms+4000ms; "
            + "partition-in:c3@1ms+2ms; partition:c2@5ms+6ms; pause:server@9000ms+1500ms; loss:0.050@0ms+10000ms; "
            + "delay:80ms@5000ms+3000ms; stall:0.125@2000ms+8000ms; drift:c1=0.850000"
        let plan = try #require(FaultPlan(text))
        #expect(plan.faults.count == 11)
        #expect(plan.description == text)
        #expect(FaultPlan(plan.description) == plan)
        #expect(FaultPlan("none") == FaultPlan())
        #expect(FaultPlan("pause:c1@2s+1s")?.description == "pause:c1@2000ms+1000ms")
        #expect(FaultPlan("pause:c1@") == nil)
        #expect(FaultPlan("teleport:c1@1ms+1ms") == nil)
    }

    @Test func swarmPlansAreDeterministicAndVaried() {
        let shape = FaultPlan.SwarmShape(clients: ["c1", "c2", "c3"], horizon: .seconds(30), ttl: .seconds(5))
        #expect(FaultPlan.swarm(seed: 9, shape: shape) == FaultPlan.swarm(seed: 9, shape: shape))
        let plans = (1...50).map { FaultPlan.swarm(seed: UInt64($0), shape: shape) }
        #expect(Set(plans).count >= 45)
        let kinds = Set(plans.flatMap { $0.faults.map { String($0.description.prefix { $0 != ":" }) } })
        #expect(kinds.isSuperset(of: ["pause", "crash", "partition", "loss", "delay", "stall", "drift"]))
        #expect(plans.contains { $0.faults.isEmpty || $0.faults.count == 1 }, "some seeds are calm")
        #expect(plans.contains { $0.faults.count >= 6 }, "some seeds are storms")
        for plan in plans { #expect(FaultPlan(plan.description) == plan) }
    }

    @Test func shrinkCandidatesAreSmaller() throws {
        let plan = try #require(FaultPlan("pause:c1@1000ms+4000ms; partition:c2@2000ms+3000ms; drift:c3=0.600000"))
        let candidates = plan.shrinkCandidates
        #expect(candidates.prefix(3).allSatisfy { $0.faults.count == 2 })
        #expect(
            candidates.contains {
                $0.description == "pause:c1@1000ms+2000ms; partition:c2@2000ms+3000ms; drift:c3=0.600000"
            })
        #expect(
            candidates.contains {
                $0.description == "pause:c1@1000ms+4000ms; partition-out:c2@2000ms+3000ms; drift:c3=0.600000"
            })
        #expect(
            candidates.contains {
                $0.description == "pause:c1@1000ms+4000ms; partition:c2@2000ms+3000ms; drift:c3=0.800000"
            })
        for candidate in candidates {
            let (faults, ms) = candidate.weight, (original, originalMs) = plan.weight
            #expect(faults < original || ms < originalMs || candidate.description.contains("partition-out"))
        }
    }
}

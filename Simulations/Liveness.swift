import Baton
import BatonCore
import BatonSimulation

/// The end of every scenario: heal all faults, require every live program to finish its liveness
/// round within `bound`, then — once crashed nodes' leases have had time to expire — require that no
/// lock or election key is left.
enum Liveness {
    static func finish(_ world: SimulationWorld, _ phase: Phase, bound: Duration, expiry: Duration, prefixes: [String])
        async throws
    {
        phase.heal(world)
        let unfinished = await world.waitForPrograms(within: bound)
        guard unfinished.isEmpty else {
            world.oracles.fail(
                "liveness",
                "\(unfinished.joined(separator: ", ")) did not finish within \(bound) after the faults healed")
            return
        }
        try await world.sleep(for: expiry)
        for prefix in prefixes {
            let left = try await world.serverRange(RangeRequest(.prefix(Key(prefix))))
            if !left.kvs.isEmpty {
                world.oracles.fail(
                    "leftover-keys",
                    "keys left under \(prefix) after every session closed: \(left.kvs.map(\.description).joined(separator: ", "))"
                )
            }
        }
    }
}

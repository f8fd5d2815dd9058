import Baton
import BatonSimulation

extension Scenario {
    /// Like `mutex`, but every worker gives up waiting after a few seconds with `lock(timeout:)`, and
    /// the API contract is checked: giving up must throw `timeout`, never `CancellationError` (the
    /// caller was not cancelled). Seed 1 caught the recipe rethrowing its cancelled child's error.
    public static let lockTimeout = Scenario(
        name: "lock-timeout", summary: "lock(timeout:) under contention must throw timeout, not CancellationError"
    ) { seed in
        let shape = RandomSource(seed: seed).split("shape")
        let clients = (1...shape.int(in: 3...5)).map { index in
            (
                name: "c\(index)", ttl: Duration.seconds(shape.int(in: 2...6)),
                patience: Duration.seconds(shape.int(in: 1...4))
            )
        }
        let horizon = Duration.seconds(20)
        let maxTTL = clients.map(\.ttl).max()!
        return Setup(
            options: SimulationOptions(),
            faults: FaultPlan.SwarmShape(
                clients: clients.map(\.name), horizon: horizon, ttl: maxTTL, weights: [.pause: 1])
        ) { world in
            let phase = Phase()
            let resource = world.resource("timeout-resource")
            for client in clients {
                world.addClient(client.name) { node in
                    let sessions = NodeSessions(node: node, ttl: client.ttl)
                    let worker = MutexWorker(
                        world: world, phase: phase, sessions: sessions, lock: "patient", resource: resource,
                        holder: "\(node.label)/w", hold: .milliseconds(500)...(.seconds(3)), scoped: false,
                        patience: client.patience)
                    try await worker.run()
                    await sessions.close()
                }
            }
            try await world.sleep(until: horizon)
            try await Liveness.finish(
                world, phase, bound: maxTTL * 3 + .seconds(20 * clients.count), expiry: maxTTL * 2,
                prefixes: ["patient/"])
        }
    }
}

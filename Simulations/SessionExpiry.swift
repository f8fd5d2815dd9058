import Baton
import BatonSimulation

extension Scenario {
    /// The stale-holder scenario: short leases, long critical sections, and pauses longer than the
    /// lease, on holders and waiters alike. A paused holder wakes believing it still holds; the fenced
    /// resource must reject its writes once a newer holder wrote. Unfenced overlaps are counted.
    public static let sessionExpiry = Scenario(
        name: "expiry", summary: "short leases, long holds, pauses past the TTL (stale holders)"
    ) { seed in
        let shape = RandomSource(seed: seed).split("shape")
        let clients = (1...shape.int(in: 3...4)).map { index in
            (name: "c\(index)", ttl: Duration.seconds(shape.int(in: 2...3)), workers: shape.chance(0.3) ? 2 : 1)
        }
        let horizon = Duration.seconds(30)
        let maxTTL = clients.map(\.ttl).max()!
        var options = SimulationOptions()
        options.network = NetworkConditions(requestTimeout: .milliseconds(500))
        return Setup(
            options: options,
            faults: FaultPlan.SwarmShape(
                clients: clients.map(\.name), horizon: horizon, ttl: maxTTL, maximumFaults: 10,
                weights: [.pause: 6, .serverPause: 1, .crash: 1, .delay: 1], drift: 0.3
            )
            .with(pauses: maxTTL...(maxTTL * 3))
        ) { world in
            let phase = Phase()
            let resource = world.resource("expiry-resource")
            for client in clients {
                world.addClient(client.name) { node in
                    let sessions = NodeSessions(node: node, ttl: client.ttl)
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for worker in 0..<client.workers {
                            let mutexWorker = MutexWorker(
                                world: world, phase: phase, sessions: sessions, lock: "ledger", resource: resource,
                                holder: "\(node.label)/w\(worker)", hold: .milliseconds(500)...(.seconds(5)),
                                scoped: worker == 1, patience: nil)
                            group.addTask { try await mutexWorker.run() }
                        }
                        try await group.waitForAll()
                    }
                    await sessions.close()
                }
            }
            try await world.sleep(until: horizon)
            try await Liveness.finish(
                world, phase, bound: maxTTL * 3 + .seconds(20 * clients.count), expiry: maxTTL * 2,
                prefixes: ["ledger/"])
        }
    }
}

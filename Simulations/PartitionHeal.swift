import Baton
import BatonSimulation

extension Scenario {
    /// Lock holders and election candidates cut off from the server — both ways, or only one way — and
    /// healed again, under loss: broken watches must be re-established, expired leases noticed, and
    /// everyone must get through once the network heals.
    public static let partitionHeal = Scenario(
        name: "partition", summary: "symmetric and one-way partitions, loss, healing; locks and elections"
    ) { seed in
        let shape = RandomSource(seed: seed).split("shape")
        let clients = (1...shape.int(in: 3...5)).map { index in
            (name: "c\(index)", ttl: Duration.seconds(shape.int(in: 2...5)), campaigns: shape.chance(0.5))
        }
        let horizon = Duration.seconds(30)
        let maxTTL = clients.map(\.ttl).max()!
        var options = SimulationOptions()
        options.network = NetworkConditions(
            requestTimeout: .milliseconds(shape.int(in: 300...1500)),
            failureDetection: .milliseconds(shape.int(in: 300...3000)))
        return Setup(
            options: options,
            faults: FaultPlan.SwarmShape(
                clients: clients.map(\.name), horizon: horizon, ttl: maxTTL, maximumFaults: 10,
                weights: [.partition: 6, .loss: 2, .delay: 1, .stall: 1], drift: 0.2)
        ) { world in
            let phase = Phase()
            let resource = world.resource("partition-resource")
            for client in clients {
                world.addClient(client.name) { node in
                    let sessions = NodeSessions(node: node, ttl: client.ttl)
                    let worker = MutexWorker(
                        world: world, phase: phase, sessions: sessions, lock: "shard", resource: resource,
                        holder: "\(node.label)/w", hold: .milliseconds(10)...(.seconds(1)), scoped: true, patience: nil)
                    var workers: [@Sendable () async throws -> Void] = [{ try await worker.run() }]
                    if client.campaigns {
                        let candidate = Candidate(
                            world: world, phase: phase, sessions: sessions, election: "primary",
                            holder: "\(node.label)/k",
                            lead: .milliseconds(10)...(.seconds(1)), patience: nil)
                        workers.append { try await candidate.run() }
                    }
                    let observer = Observer(
                        world: world, sessions: sessions, election: "primary", observer: "\(node.label)/o")
                    try await runWithObservers(workers, observers: [{ try await observer.run() }])
                    await sessions.close()
                }
            }
            try await world.sleep(until: horizon)
            try await Liveness.finish(
                world, phase, bound: maxTTL * 3 + .seconds(20 * clients.count), expiry: maxTTL * 2,
                prefixes: ["shard/", "primary/"])
        }
    }
}

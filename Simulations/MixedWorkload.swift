import Baton
import BatonSimulation

extension Scenario {
    /// Everything at once: two locks, an election with observers, workers sharing sessions, and every
    /// kind of fault the swarm can draw, crashes with restarts included. The benchmark's scenario.
    public static let mixed = Scenario(
        name: "mixed", summary: "two locks, an election, observers; every fault kind including restarts"
    ) { seed in
        let shape = RandomSource(seed: seed).split("shape")
        let clients = (1...shape.int(in: 4...6)).map { index in
            (
                name: "c\(index)", ttl: Duration.seconds(shape.int(in: 2...6)),
                lock: shape.chance(0.5) ? "alpha" : "beta",
                workers: shape.int(in: 1...2), campaigns: shape.chance(0.5), observes: shape.chance(0.5)
            )
        }
        let horizon = Duration.seconds(40)
        let maxTTL = clients.map(\.ttl).max()!
        var options = SimulationOptions()
        options.network = NetworkConditions(requestTimeout: .milliseconds(shape.int(in: 300...2000)))
        return Setup(
            options: options,
            faults: FaultPlan.SwarmShape(clients: clients.map(\.name), horizon: horizon, ttl: maxTTL, maximumFaults: 12)
        ) { world in
            let phase = Phase()
            for client in clients {
                world.addClient(client.name) { node in
                    let sessions = NodeSessions(node: node, ttl: client.ttl)
                    var workers: [@Sendable () async throws -> Void] = (0..<client.workers).map { index in
                        let worker = MutexWorker(
                            world: world, phase: phase, sessions: sessions, lock: client.lock,
                            resource: world.resource("\(client.lock)-resource"), holder: "\(node.label)/w\(index)",
                            hold: .milliseconds(10)...(.seconds(2)), scoped: index == 0, patience: nil)
                        return { try await worker.run() }
                    }
                    if client.campaigns {
                        let candidate = Candidate(
                            world: world, phase: phase, sessions: sessions, election: "leader",
                            holder: "\(node.label)/k",
                            lead: .milliseconds(10)...(.seconds(2)), patience: .milliseconds(200)...(.seconds(3)))
                        workers.append { try await candidate.run() }
                    }
                    let observer = Observer(
                        world: world, sessions: sessions, election: "leader", observer: "\(node.label)/o")
                    try await runWithObservers(
                        workers, observers: client.observes ? [{ try await observer.run() }] : [])
                    await sessions.close()
                }
            }
            try await world.sleep(until: horizon)
            try await Liveness.finish(
                world, phase, bound: maxTTL * 3 + .seconds(20 * clients.count), expiry: maxTTL * 2,
                prefixes: ["alpha/", "beta/", "leader/"])
        }
    }
}

import Baton
import BatonSimulation

extension Scenario {
    /// Candidates (some two per session) campaign, lead, proclaim and resign — some giving up while
    /// they wait — while observers on every node check the leaders they see.
    public static let electionObservers = Scenario(
        name: "election", summary: "campaign/proclaim/resign with impatient candidates and observers"
    ) { seed in
        let shape = RandomSource(seed: seed).split("shape")
        let clients = (1...shape.int(in: 3...5)).map { index in
            (
                name: "c\(index)", ttl: Duration.seconds(shape.int(in: 2...6)), candidates: shape.int(in: 1...2),
                observes: shape.chance(0.6)
            )
        }
        let horizon = Duration.seconds(30)
        let maxTTL = clients.map(\.ttl).max()!
        let leadMax = Duration.milliseconds(shape.int(in: 100...2000))
        let patience =
            shape.chance(0.7) ? Duration.milliseconds(200)...Duration.milliseconds(shape.int(in: 500...4000)) : nil
        var options = SimulationOptions()
        options.network = NetworkConditions(requestTimeout: .milliseconds(shape.int(in: 300...2000)))
        return Setup(
            options: options,
            faults: FaultPlan.SwarmShape(clients: clients.map(\.name), horizon: horizon, ttl: maxTTL)
        ) { world in
            let phase = Phase()
            for client in clients {
                world.addClient(client.name) { node in
                    let sessions = NodeSessions(node: node, ttl: client.ttl)
                    let candidates: [@Sendable () async throws -> Void] = (0..<client.candidates).map { index in
                        let candidate = Candidate(
                            world: world, phase: phase, sessions: sessions, election: "leader",
                            holder: "\(node.label)/k\(index)", lead: .milliseconds(10)...leadMax, patience: patience)
                        return { try await candidate.run() }
                    }
                    let observer = Observer(
                        world: world, sessions: sessions, election: "leader", observer: "\(node.label)/o")
                    try await runWithObservers(
                        candidates, observers: client.observes ? [{ try await observer.run() }] : [])
                    await sessions.close()
                }
            }
            try await world.sleep(until: horizon)
            try await Liveness.finish(
                world, phase, bound: maxTTL * 3 + .seconds(20 * clients.count), expiry: maxTTL * 2,
                prefixes: ["leader/"])
        }
    }
}

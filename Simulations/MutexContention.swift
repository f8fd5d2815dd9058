import Baton
import BatonSimulation

extension Scenario {
    /// Clients (most with two workers sharing one session) contend for one lock and write a fenced
    /// resource under it, through pauses, crashes, partitions, loss, delays, stalls and clock drift.
    /// Stalls are frequent: an unlock applied after its caller timed out, overtaken by the same
    /// session's next lock, is what a guarded unlock must survive.
    public static let mutexContention = Scenario(
        name: "mutex", summary: "lock contention with fenced writes; workers share sessions"
    ) { seed in
        let shape = RandomSource(seed: seed).split("shape")
        let clients = (1...shape.int(in: 3...5)).map { index in
            (
                name: "c\(index)", ttl: Duration.seconds(shape.int(in: 2...6)), workers: shape.chance(0.7) ? 2 : 1,
                scoped: shape.chance(0.5), patience: Duration?.none
            )
        }
        let horizon = Duration.seconds(30)
        let maxTTL = clients.map(\.ttl).max()!
        let holdMax = Duration.milliseconds(shape.int(in: 100...3000))
        var options = SimulationOptions()
        options.network = NetworkConditions(requestTimeout: .milliseconds(shape.int(in: 300...2000)))
        return Setup(
            options: options,
            faults: FaultPlan.SwarmShape(
                clients: clients.map(\.name), horizon: horizon, ttl: maxTTL,
                weights: [.pause: 2, .crash: 1, .partition: 1, .loss: 1, .delay: 1, .stall: 3, .serverPause: 1])
        ) { world in
            let phase = Phase()
            let resource = world.resource("mutex-resource")
            for client in clients {
                world.addClient(client.name) { node in
                    let sessions = NodeSessions(node: node, ttl: client.ttl)
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for worker in 0..<client.workers {
                            let mutexWorker = MutexWorker(
                                world: world, phase: phase, sessions: sessions, lock: "jobs", resource: resource,
                                holder: "\(node.label)/w\(worker)", hold: .milliseconds(10)...holdMax,
                                scoped: client.scoped, patience: client.patience)
                            group.addTask { try await mutexWorker.run() }
                        }
                        try await group.waitForAll()
                    }
                    await sessions.close()
                }
            }
            try await world.sleep(until: horizon)
            try await Liveness.finish(
                world, phase, bound: maxTTL * 3 + .seconds(20 * clients.count), expiry: maxTTL * 2, prefixes: ["jobs/"])
        }
    }
}

import Baton
import BatonSimulation

/// Observes one election and reports every leader it sees to the oracles (terms must only grow, and
/// every observed leader must have owned the election at the server). Re-observes after a broken
/// watch. Runs until cancelled.
struct Observer: Sendable {
    let world: SimulationWorld
    let sessions: NodeSessions
    let election: String
    let observer: String

    func run() async throws {
        let node = sessions.node
        while true {
            do {
                let session = try await sessions.session()
                for try await event in try session.election(election).observe() {
                    switch event {
                    case .leader(let kv): world.oracles.observed(election, observer: observer, leader: kv)
                    case .noLeader: world.oracles.observed(election, observer: observer, leader: nil)
                    }
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch  where isTransient(error) {
                node.note("\(observer): \(error)")
            }
            try await node.sleep(for: .milliseconds(200))
        }
    }
}

/// Runs `workers` to completion with `observers` alongside, then cancels the observers.
func runWithObservers(
    _ workers: [@Sendable () async throws -> Void], observers: [@Sendable () async throws -> Void]
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { watching in
        for observer in observers { watching.addTask { try await observer() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in workers { group.addTask { try await worker() } }
            try await group.waitForAll()
        }
        watching.cancelAll()
        while let next = await watching.nextResult() {
            if case .failure(let error) = next, !(error is CancellationError) { throw error }
        }
    }
}

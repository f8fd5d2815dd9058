import Baton
import BatonCore
import BatonSimulation

/// A worker contending for one lock: acquire, write the fenced resource twice with the grant's token
/// (holding in between), release; during the fault phase again and again, then once more after the
/// heal (the liveness round).
///
/// Reports what the holder believes to the oracles: the grant, entering and leaving the critical
/// section, and when it starts releasing.
struct MutexWorker: Sendable {
    let world: SimulationWorld
    let phase: Phase
    let sessions: NodeSessions
    let lock: String
    let resource: FencedResource
    let holder: String
    /// How long a holder keeps the lock between its two writes.
    let hold: ClosedRange<Duration>
    /// Whether to use `withLock` (cancelled when the lock is lost) instead of lock/unlock.
    let scoped: Bool
    /// How long a lock attempt may wait before it is given up (`nil`: plain `lock()`).
    let patience: Duration?

    func run() async throws {
        let node = sessions.node
        let random = node.environment.random
        while true {
            let finalRound = phase.healed
            do {
                let session = try await sessions.session()
                let mutex = try session.mutex(lock)
                if scoped {
                    try await mutex.withLock { grant in try await critical(grant, random: random, short: finalRound) }
                } else {
                    let grant =
                        if let patience { try await mutex.lock(timeout: patience) } else { try await mutex.lock() }
                    do {
                        try await critical(grant, random: random, short: finalRound)
                    } catch {
                        try? await grant.unlock()
                        throw error
                    }
                    try? await grant.unlock()
                }
                if finalRound { return }
            } catch is CancellationError {
                if !Task.isCancelled, patience != nil {
                    world.oracles.fail(
                        "api-contract",
                        "\(holder): lock(timeout:) threw CancellationError though the caller was not cancelled")
                }
                throw CancellationError()
            } catch  where isTransient(error) {
                node.note("\(holder): \(error)")
                try await node.sleep(for: random.duration(in: .milliseconds(10)...(.milliseconds(300))))
            }
            try await node.sleep(for: random.duration(in: .zero...(.milliseconds(500))))
        }
    }

    private func critical(_ grant: LockGrant, random: RandomSource, short: Bool) async throws {
        let node = sessions.node
        world.oracles.lockAcquired(
            lock, key: grant.key, token: grant.fencingToken, lease: grant.session.lease, holder: holder)
        world.oracles.enter(lock, holder: holder)
        defer {
            world.oracles.exit(lock, holder: holder)
            world.oracles.releasing(grant.key, token: grant.fencingToken)
        }
        let lease = grant.session.lease
        _ = try await resource.write(token: grant.fencingToken, lease: lease, holder: holder, from: node)
        try await node.sleep(for: short ? .milliseconds(50) : random.duration(in: hold))
        _ = try await resource.write(token: grant.fencingToken, lease: lease, holder: holder, from: node)
    }
}

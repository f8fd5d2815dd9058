import Baton
import BatonCore
import BatonSimulation

/// A candidate in one election: campaign (sometimes giving up after a while), lead for a while
/// proclaiming new values, resign; during the fault phase again and again, then once more after the
/// heal (the liveness round).
struct Candidate: Sendable {
    let world: SimulationWorld
    let phase: Phase
    let sessions: NodeSessions
    let election: String
    let holder: String
    /// How long a leader leads before resigning.
    let lead: ClosedRange<Duration>
    /// How long a campaign may wait before the candidate gives up (`nil`: never).
    let patience: ClosedRange<Duration>?

    func run() async throws {
        let node = sessions.node
        let random = node.environment.random
        while true {
            let finalRound = phase.healed
            do {
                let session = try await sessions.session()
                let candidacy = try session.election(election)
                let patience = finalRound ? nil : self.patience.map { random.duration(in: $0) }
                if let leadership = try await campaign(candidacy, value: holder, patience: patience) {
                    try await serve(leadership, random: random, short: finalRound)
                    if finalRound { return }
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch  where isTransient(error) {
                node.note("\(holder): \(error)")
                try await node.sleep(for: random.duration(in: .milliseconds(10)...(.milliseconds(300))))
            }
            try await node.sleep(for: random.duration(in: .zero...(.milliseconds(500))))
        }
    }

    /// Campaigns; with `patience`, gives up (cancels the campaign) once it has waited that long.
    /// Returns `nil` when it gave up.
    private func campaign(_ candidacy: Election, value: String, patience: Duration?) async throws -> Leadership? {
        guard let patience else { return try await candidacy.campaign(value) }
        let node = sessions.node
        return try await withThrowingTaskGroup(of: Leadership?.self) { group in
            group.addTask { try await candidacy.campaign(value) }
            group.addTask {
                try await node.sleep(for: patience)
                return nil
            }
            defer { group.cancelAll() }
            if let won = try await group.next() ?? nil { return won }
            group.cancelAll()
            do {
                return try await group.next() ?? nil  // the campaign may have won in the meantime
            } catch is CancellationError {
                return nil
            }
        }
    }

    /// Leads for a while, proclaiming; always resigns at the end, whatever went wrong.
    private func serve(_ leadership: Leadership, random: RandomSource, short: Bool) async throws {
        let node = sessions.node
        world.oracles.leaderElected(
            election, key: leadership.key, term: leadership.term, lease: leadership.election.session.lease,
            holder: holder)
        do {
            for round in 0..<(short ? 1 : random.int(in: 1...3)) {
                try await node.sleep(for: short ? .milliseconds(50) : random.duration(in: lead))
                try await leadership.proclaim("\(holder)/\(round)")
            }
        } catch {
            world.oracles.releasing(leadership.key, token: leadership.term)
            try? await leadership.resign()
            throw error
        }
        world.oracles.releasing(leadership.key, token: leadership.term)
        try? await leadership.resign()
    }
}

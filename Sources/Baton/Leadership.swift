import BatonCore

/// This session's leadership of an ``Election``, won by ``Election/campaign(_:)``.
public final class Leadership: Sendable {
    /// The election led.
    public let election: Election
    private let hold: KeyHold

    init(election: Election, hold: KeyHold) {
        self.election = election
        self.hold = hold
    }

    /// The leader key.
    public var key: Key { hold.key }
    /// The leader key's create revision: unique to this leadership, higher than every earlier term.
    public var term: Int64 { hold.createRevision }
    /// Whether this leader still believes it leads: not resigned, session alive.
    public var isLeader: Bool { hold.isHeld }

    /// Publishes a new value as the leader's, only if this leadership's term is still current.
    /// - Throws: `notLeader` when it is not; backend errors.
    public func proclaim(_ value: String) async throws {
        let put = TxnOp.put(PutRequest(key: key, value: Array(value.utf8), lease: hold.session.lease))
        if hold.session.environment.mutations.contains(.unguardedCampaign) {
            _ = try await hold.session.backend.txn(TxnRequest(success: [put]))
            return
        }
        do {
            _ = try await hold.txnIfHeld([put])
        } catch let error as BatonError where error.code == .lockLost {
            throw BatonError(
                .notLeader, "\(key) no longer leads election \(election.name) (term \(term))", cause: error)
        }
    }

    /// Steps down: deletes the leader key by name (a name no later term shares), letting the next
    /// candidate lead. Completes even if the calling task is cancelled.
    /// - Throws: `notLeader` when already resigned or deposed; backend errors.
    public func resign() async throws {
        do {
            try await hold.release()
        } catch let error as BatonError where error.code == .lockReleased {
            throw BatonError(.notLeader, "\(key) does not lead election \(election.name) (term \(term))", cause: error)
        }
        hold.session.environment.events.emit(.leaderResigned(election: election.name, key: key, term: term))
    }

    /// Waits until the leadership is lost — the session ended or the key was deleted — and returns why.
    /// - Throws: `CancellationError` when the waiting task is cancelled.
    public func lost() async throws -> BatonError { try await hold.lost() }
}

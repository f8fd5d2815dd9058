import Baton
import BatonSimulation

/// One client node's Baton client and its current session, shared by the node's workers: the first
/// worker to find the session ended starts the next one, the others wait for it.
///
/// A default actor used by one node only, so its jobs stay on that node.
actor NodeSessions {
    let node: SimulatedNode
    let client: BatonClient
    let ttl: Duration
    private var current: Task<Session, any Error>?

    init(node: SimulatedNode, ttl: Duration) {
        self.node = node
        self.client = node.client
        self.ttl = ttl
    }

    /// The live session, starting a new one if there is none or it ended. Retries unreachable-store
    /// errors with a short pause until `deadline` (node time).
    func session() async throws -> Session {
        if let current, let session = try? await current.value, session.end == nil { return session }
        let client = self.client, ttl = self.ttl, node = self.node
        let starting = node.spawn {
            while true {
                do {
                    return try await client.session(ttl: ttl)
                } catch let error as BatonError where error.code == .timeout || error.code == .unavailable {
                    try await node.sleep(for: .milliseconds(200))
                }
            }
        }
        current = starting
        return try await starting.value
    }

    /// Closes the current session (revoking its lease) if it is alive; errors are ignored (the lease
    /// then runs out by its TTL).
    func close() async {
        if let current, let session = try? await current.value, session.end == nil {
            try? await session.close()
        }
        current = nil
        await client.close()
    }
}

import Baton
import BatonCore

/// A storage service guarded by fencing tokens, the way the Chubby paper and Jepsen recommend: it
/// accepts a write only if its token is at least the last accepted one, so a stale lock holder's
/// writes are rejected once a newer holder has written.
///
/// It lives on its own node, reachable from every client with network latency but never partitioned
/// (the classic failure: a client cut off from the lock service still reaches the database). A rejected
/// write is correct fencing when the writer's lease had expired; when the writer's lease is still
/// alive, a newer holder was let in while the lock was legitimately held, and the oracle fails the run.
// @unchecked Sendable: driver-confined: touched only by jobs and timers of one simulation
public final class FencedResource: @unchecked Sendable {
    /// The resource's name, for messages.
    public let name: String
    /// The highest token accepted so far.
    public private(set) var lastToken: Int64 = 0
    /// Accepted and rejected writes.
    public private(set) var accepted = 0, rejected = 0
    private let world: SimulationWorld
    private var latency: SplitMix64

    init(name: String, world: SimulationWorld, seed: UInt64) {
        self.name = name
        self.world = world
        self.latency = SplitMix64(seed: seed)
    }

    /// Decides one write that arrived now: accepted if `token >= lastToken`.
    /// Fails the run if rejected while `lease` is still alive at the server.
    public func apply(token: Int64, lease: LeaseID?, holder: String) -> Bool {
        if token >= lastToken {
            lastToken = token
            accepted += 1
            world.trace.note("\(name): accepted token \(token) from \(holder)")
            return true
        }
        rejected += 1
        world.trace.note("\(name): rejected token \(token) from \(holder) (last \(lastToken))")
        if let lease, world.server.ledger.isAlive(lease, now: world.scheduler.nowNanoseconds) == true {
            world.oracles.fail(
                "fencing",
                "\(name): \(holder) with token \(token) was fenced out by token \(lastToken) while its lease \(lease) was still alive: the lock was granted to a newer holder while legitimately held"
            )
        }
        return false
    }

    /// Sends a write from `node` and waits for the answer (latency both ways, never lost).
    /// Returns whether it was accepted.
    public func write(token: Int64, lease: LeaseID?, holder: String, from node: SimulatedNode) async throws -> Bool {
        try Task.checkCancellation()
        let pending = PendingReply<Bool>(
            timeoutError: BatonErrorBox(error: BatonError(.timeout, "resource write timed out")))
        let scheduler = world.scheduler
        let there = oneWay(), back = oneWay()
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                guard pending.install(continuation) else { return }
                scheduler.after(.nanoseconds(there), node: -1) { [self] in
                    let ok = apply(token: token, lease: lease, holder: holder)
                    scheduler.after(.nanoseconds(back), node: node.index) { pending.resolve(.success(ok)) }
                }
            }
        } onCancel: {
            pending.resolve(.failure(CancellationError()))
        }
    }

    private func oneWay() -> Int64 { 500_000 + Int64(latency.next() % 2_000_000) }
}

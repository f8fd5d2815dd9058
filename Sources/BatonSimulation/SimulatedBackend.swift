import Baton
import BatonCore
import Synchronization

/// A client node's connection to the simulated server: a `Backend` whose every call is a message
/// over the simulated network.
///
/// A call fails with `timeout` when neither reply nor failure arrives within the request timeout (on
/// the node's own, possibly drifting, clock), with `unavailable` while the connection is known down,
/// and with `CancellationError` as soon as the caller is cancelled (the request may still reach the
/// server, as with a real network). Watches are ordered streams that end with `unavailable` when the
/// connection breaks.
public final class SimulatedBackend: Backend, Sendable {
    private let network: SimulatedNetwork
    private let endpoint: ClientEndpoint
    private let closed = Atomic<Bool>(false)

    init(network: SimulatedNetwork, endpoint: ClientEndpoint) {
        self.network = network
        self.endpoint = endpoint
    }

    private static let timeout = BatonErrorBox(error: BatonError(.timeout, "request timed out"))

    private func call<R: Sendable>(
        _ kind: @autoclosure () -> String,
        _ handler: @escaping @Sendable (isolated LocalStore, SimulatedServer) throws -> R
    ) async throws -> R {
        guard !closed.load(ordering: .relaxed) else {
            throw BatonError(.alreadyClosed, "the simulated backend was closed")
        }
        try Task.checkCancellation()
        guard network.scheduler.checkDriver() else {
            throw BatonError(.unavailable, "the simulated backend was called from outside the simulation")
        }
        let pending = PendingReply<R>(timeoutError: SimulatedBackend.timeout)
        let network = self.network, endpoint = self.endpoint
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                if pending.install(continuation) { network.send(from: endpoint, kind(), pending, handler) }
            }
        } onCancel: {
            pending.resolve(.failure(CancellationError()))
        }
    }

    /// Reads keys on the server; the response is checked for keys of expired leases.
    public func range(_ request: RangeRequest) async throws -> RangeResponse {
        try await call("range \(request.range)") { store, server in
            let response = try store.range(request)
            server.answered(at: response.revision)
            server.checkVisible(response.kvs)
            return response
        }
    }

    /// Writes one key on the server.
    public func put(_ request: PutRequest) async throws -> PutResponse {
        try await call("put \(request.key)") { store, server in
            let response = try store.put(request)
            server.answered(at: response.revision)
            return response
        }
    }

    /// Deletes keys on the server.
    public func deleteRange(_ request: DeleteRangeRequest) async throws -> DeleteRangeResponse {
        try await call("delete \(request.range)") { store, server in
            let response = try store.deleteRange(request)
            server.answered(at: response.revision)
            return response
        }
    }

    /// Runs a transaction on the server; its reads are checked for keys of expired leases.
    public func txn(_ request: TxnRequest) async throws -> TxnResponse {
        try await call("txn") { store, server in
            let response = try store.txn(request)
            server.answered(at: response.revision)
            server.checkVisible(response)
            return response
        }
    }

    /// Compacts the server's history.
    public func compact(revision: Int64) async throws {
        try await call("compact") { store, _ in try store.compact(revision: revision) }
    }

    /// Grants a lease; the oracles' lease ledger records it.
    public func grantLease(ttl: Int64, id: LeaseID?) async throws -> LeaseGrant {
        try await call("grant") { store, server in
            let grant = try store.grantLease(ttl: ttl, id: id)
            server.ledger.granted(grant.id, ttl: grant.ttl, now: server.now)
            return grant
        }
    }

    /// Renews a lease; the ledger records the new expiry.
    public func keepAliveLease(_ id: LeaseID) async throws -> Int64 {
        try await call("keepalive \(id)") { store, server in
            let ttl = try store.keepAliveLease(id)
            server.ledger.renewed(id, ttl: ttl, now: server.now)
            return ttl
        }
    }

    /// Revokes a lease; the ledger records it.
    public func revokeLease(_ id: LeaseID) async throws {
        try await call("revoke \(id)") { store, server in
            try store.revokeLease(id)
            server.ledger.revoked(id)
        }
    }

    /// Reads a lease's remaining time.
    public func leaseTimeToLive(_ id: LeaseID, keys: Bool) async throws -> LeaseTimeToLive {
        try await call("ttl \(id)") { store, _ in try store.leaseTimeToLive(id, keys: keys) }
    }

    /// Opens a watch stream over the connection; returns once the server registered it.
    public func watch(_ request: WatchRequest) async throws -> WatchStream {
        let (stream, continuation) = WatchStream.makeStream()
        let network = self.network
        let channel = network.openChannel(for: endpoint, continuation)
        continuation.onTermination = { _ in network.clientTerminated(channel) }
        do {
            try await call("watch \(request.range)") { store, _ in
                network.startForwarding(channel, try store.watch(request))
            }
        } catch {
            continuation.finish()
            throw error
        }
        return stream
    }

    /// Closes the connection: later calls fail with `alreadyClosed`. Open watches are unaffected
    /// until their consumers drop them.
    public func close() async {
        closed.store(true, ordering: .relaxed)
    }
}

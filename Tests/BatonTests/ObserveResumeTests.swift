import Baton
import BatonCore
import Synchronization
import Testing

/// A LocalStore whose first watch breaks with `unavailable` after delivering one batch, as a watch does
/// when the network drops.
final class BreakingWatchBackend: Backend {
    let store: LocalStore
    private let broken = Mutex(false)
    init(_ store: LocalStore) { self.store = store }

    func range(_ request: RangeRequest) async throws -> RangeResponse { try await store.range(request) }
    func put(_ request: PutRequest) async throws -> PutResponse { try await store.put(request) }
    func deleteRange(_ request: DeleteRangeRequest) async throws -> DeleteRangeResponse {
        try await store.deleteRange(request)
    }
    func txn(_ request: TxnRequest) async throws -> TxnResponse { try await store.txn(request) }
    func compact(revision: Int64) async throws { try await store.compact(revision: revision) }
    func grantLease(ttl: Int64, id: LeaseID?) async throws -> LeaseGrant {
        try await store.grantLease(ttl: ttl, id: id)
    }
    func keepAliveLease(_ id: LeaseID) async throws -> Int64 { try await store.keepAliveLease(id) }
    func revokeLease(_ id: LeaseID) async throws { try await store.revokeLease(id) }
    func leaseTimeToLive(_ id: LeaseID, keys: Bool) async throws -> LeaseTimeToLive {
        try await store.leaseTimeToLive(id, keys: keys)
    }
    func close() async { await store.close() }

    func watch(_ request: WatchRequest) async throws -> WatchStream {
        let upstream = try await store.watch(request)
        let breakThisOne = broken.withLock { broken in
            defer { broken = true }
            return !broken
        }
        guard breakThisOne, case .prefix = request.range else { return upstream }
        let (stream, continuation) = WatchStream.makeStream()
        let forward = Task {
            for try await response in upstream {
                continuation.yield(response)
                continuation.finish(throwing: BatonError(.unavailable, "connection dropped"))
                return
            }
        }
        continuation.onTermination = { _ in forward.cancel() }
        return stream
    }
}

@Suite struct ObserveResumeTests {
    @Test func observeResumesABrokenWatchWithoutSkippingALeader() async throws {
        let h = try await Harness(.local)
        let backend = BreakingWatchBackend(LocalStore(environment: h.environment))
        let client = BatonClient(backend: backend, environment: h.environment)
        var events = try await client.session().election("r").observe().makeAsyncIterator()
        guard case .noLeader = try await events.next() else { Issue.record("expected no leader first"); return }

        let a = try await client.session().election("r").campaign("a")  // delivered, then the watch breaks
        #expect(try await events.next() == .leader(try await a.election.leader()))
        try await a.proclaim("a2")  // happens while the observer waits to resume
        try await a.resign()
        await h.clock.waitForSleepers(1, within: .milliseconds(100))  // the resume pause
        h.clock.advance(by: .milliseconds(100))
        var seen: [String] = []
        for _ in 0..<2 {
            switch try await events.next() {
            case .leader(let kv)?: seen.append(kv.valueString)
            case .noLeader?: seen.append("none")
            case nil: seen.append("end")
            }
        }
        #expect(seen == ["a2", "none"])
        await client.close()
    }
}

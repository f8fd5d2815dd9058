import Baton
import BatonCore
import Synchronization
import Testing

/// A LocalStore whose first watch breaks with `unavailable` after delivering one batch, as a watch does
/// when the network drops.
final class BreakingWatchBackend: ForwardingBackend {
    let store: any Backend
    private let broken = Mutex(false)
    init(_ store: LocalStore) { self.store = store }

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

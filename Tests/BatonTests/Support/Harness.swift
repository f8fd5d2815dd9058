import Baton
import BatonCore
import BatonEtcd
import BatonTestSupport
import Synchronization
import Testing

/// The backends the conformance suite runs against. etcd joins when an `etcd` binary is installed,
/// and always under `CI=true` (where a missing binary then fails the run instead of skipping it).
enum BackendKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// `local:`: waits and lease keeping in process.
    case local
    /// The local store reached only through requests, as a remote store is: waiters watch and
    /// sessions renew their leases — the code etcd and the simulator run, on the manual clock.
    case localByRequests = "local-by-requests"
    case etcd
    static var allCases: [BackendKind] {
        EtcdServer.isEnabled ? [.local, .localByRequests, .etcd] : [.local, .localByRequests]
    }
    var testDescription: String { rawValue }
}

/// Clients of one store, as separate processes would have; closes everything at the end.
final class Harness: Sendable {
    let clock = ManualClock()
    let environment: BatonEnvironment
    let store: any Backend
    private let etcd: EtcdServer?

    init(_ kind: BackendKind, events: EventSink = .discard) async throws {
        environment = BatonEnvironment(clock: clock, random: RandomSource(seed: 1), events: events)
        switch kind {
        case .local:
            etcd = nil
            store = LocalStore(environment: environment)
        case .localByRequests:
            etcd = nil
            store = ByRequests(LocalStore(environment: environment))
        case .etcd:
            let server = try await EtcdServer.start()
            etcd = server
            store = try server.gateway()
        }
    }

    /// A new client of the shared store: for etcd, with its own gateway, as another process would.
    /// (Gateways keep the real clock for their timeouts; sessions use the harness's manual clock.)
    func client() throws -> BatonClient {
        guard let etcd else { return BatonClient(backend: store, environment: environment) }
        return BatonClient(backend: try etcd.gateway(), environment: environment)
    }

    /// A session of a new client.
    func session(ttl: Duration = .seconds(10)) async throws -> Session {
        try await client().session(ttl: ttl)
    }

    /// Every key under a prefix, in create order.
    func keys(_ prefix: String) async throws -> [String] {
        try await store.range(RangeRequest(.prefix(Key(prefix)), sortOrder: .ascend, sortTarget: .create)).kvs.map(
            \.key.description)
    }

    /// Waits (on store events, not time) until `count` keys exist under `prefix`.
    func waitForKeys(_ prefix: String, count: Int) async throws {
        let events = try await store.watch(WatchRequest(.prefix(Key(prefix))))
        if try await keys(prefix).count == count { return }
        for try await _ in events where try await keys(prefix).count == count { return }
    }

    func close() async {
        await store.close()
        etcd?.destroy()
    }
}

/// Records an order of events across tasks.
actor Recorder<Element: Sendable> {
    private(set) var items: [Element] = []
    func append(_ item: Element) { items.append(item) }
}

/// Expects `body` to throw a BatonError with `code`.
func expectBatonError<T>(
    _ code: BatonError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        Issue.record("expected BatonError(\(code)), got success", sourceLocation: sourceLocation)
    } catch let error as BatonError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected BatonError(\(code)), got \(error)", sourceLocation: sourceLocation)
    }
}

/// A test backend in front of another: every request goes to `store` unless the conformer implements
/// it itself. The in-process capabilities, `watchWithRevision` and `completesCancelledRequests` keep
/// the protocol's defaults, as for a store in another process.
protocol ForwardingBackend: Backend {
    var store: any Backend { get }
}

extension ForwardingBackend {
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
    func watch(_ request: WatchRequest) async throws -> WatchStream { try await store.watch(request) }
    func close() async { await store.close() }
}

/// A backend seen only through its requests, as a store in another process is: waiters watch and
/// sessions renew their leases.
struct ByRequests: ForwardingBackend {
    let store: any Backend
    init(_ store: any Backend) { self.store = store }

    func watchWithRevision(_ request: WatchRequest) async throws -> (events: WatchStream, revision: Int64?) {
        try await store.watchWithRevision(request)
    }
    var completesCancelledRequests: Bool { store.completesCancelledRequests }
}

import BatonCore
import BatonEtcd
import Synchronization

/// A connection to a backend: where sessions come from.
///
/// ```swift
/// let client = try await BatonClient.connect("local:")
/// let session = try await client.session(ttl: .seconds(10))
/// try await session.mutex("jobs").withLock { grant in … }
/// ```
public final class BatonClient: Sendable {
    /// The store every recipe of this client talks to.
    public let backend: any Backend
    /// The clock, executor, randomness and event sink of every session of this client.
    public let environment: BatonEnvironment
    /// A raw key prefix put in front of every lock and election key.
    public let keyPrefix: String

    private let state = Mutex(State())
    private struct State {
        var closed = false
        var sessions: [LeaseID: Session] = [:]
    }

    /// Creates a client over a backend you built (a ``LocalStore``, an etcd gateway, a simulated link).
    public init(backend: any Backend, environment: BatonEnvironment = BatonEnvironment(), keyPrefix: String = "") {
        self.backend = backend
        self.environment = environment
        self.keyPrefix = keyPrefix
    }

    /// Connects to the backend a connection string names (see ``ConnectionString``).
    ///
    /// `local:` creates a fresh in-memory ``LocalStore``; `etcd:…` reaches etcd through its gateway
    /// (no request is made until the first session).
    /// - Throws: `unsupportedService`, `invalidConnectionString`.
    public static func connect(
        _ connectionString: String, environment: BatonEnvironment = BatonEnvironment()
    ) async throws -> BatonClient {
        switch try ConnectionString(parsing: connectionString) {
        case .local(let prefix):
            return BatonClient(
                backend: LocalStore(environment: environment), environment: environment, keyPrefix: prefix)
        case .etcd(let configuration, let prefix):
            let gateway = try EtcdGateway(
                configuration: configuration, clock: environment.clock, taskExecutor: environment.taskExecutor)
            return BatonClient(backend: gateway, environment: environment, keyPrefix: prefix)
        }
    }

    /// Starts a session: grants a lease of `ttl` and keeps it alive every `ttl / 3` (on `local:`, the
    /// store keeps it alive in process) until the session is closed, orphaned or expires.
    ///
    /// `ttl` is rounded up to whole seconds, as etcd's leases count.
    /// - Throws: `invalidArgument` for a TTL that is not positive or exceeds etcd's maximum;
    ///   `alreadyClosed` after ``close()``; the backend's errors (`unavailable`, `timeout`).
    public func session(ttl: Duration = .seconds(60)) async throws -> Session {
        guard ttl > .zero else { throw BatonError(.invalidArgument, "a session TTL must be positive, got \(ttl)") }
        let seconds = ttl.components.seconds + (ttl.components.attoseconds > 0 ? 1 : 0)
        guard seconds <= maximumLeaseTTL else {
            throw BatonError(.invalidArgument, "a session TTL must be at most \(maximumLeaseTTL) s, got \(ttl)")
        }
        try checkOpen()
        let sent = environment.now()
        let grant = try await backend.grantLease(ttl: seconds, id: nil)
        let session = Session(client: self, grant: grant, grantSentAt: sent)
        let registered = state.withLock { state in
            guard !state.closed else { return false }
            state.sessions[grant.id] = session
            return true
        }
        guard registered else {
            session.orphan()
            throw BatonError(.alreadyClosed, "the client was closed")
        }
        try await session.start()
        return session
    }

    /// Closes the client: open sessions are orphaned (their leases run out on the server) and the
    /// backend is closed. Later calls fail with `alreadyClosed`.
    public func close() async {
        let sessions = state.withLock { state -> [Session] in
            guard !state.closed else { return [] }
            state.closed = true
            defer { state.sessions.removeAll() }
            return state.sessions.sorted { $0.key < $1.key }.map(\.value)
        }
        for session in sessions { session.orphan() }
        await backend.close()
    }

    func checkOpen() throws {
        if state.withLock({ $0.closed }) { throw BatonError(.alreadyClosed, "the client was closed") }
    }

    func forget(_ session: Session) {
        _ = state.withLock { $0.sessions.removeValue(forKey: session.lease) }
    }
}

import BatonCore
import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// POSTs to etcd's gateway over URLSession, with timeouts and endpoint failover.
///
/// - Every request has a deadline of its own (a watchdog task on the injected clock cancels the
///   URLSession task), so nothing waits on a server that never answers.
/// - An endpoint not known to work is first probed with `GET /version` within the dial timeout;
///   any HTTP answer counts. A refused or unanswered probe, or a refused connection, moves on to
///   the next endpoint; the one that answered is remembered and tried first next time.
/// - A request that may have reached the server (its connection broke, or it timed out) is not
///   sent again unless it is idempotent: a `put` must not be applied twice.
final class HTTPTransport: Sendable {
    let endpoints: [URL]
    let dialTimeout: Duration
    let requestTimeout: Duration
    let sleeper: Sleeper
    let taskExecutor: (any TaskExecutor)?

    private let unarySession: URLSession
    private let unaryRouter = TaskRouter()
    private let streamSession: URLSession
    private let streamRouter = TaskRouter()

    private struct State {
        var preferred = 0
        var healthy: [Bool]
        var closed = false
    }
    private let state: Mutex<State>

    init(
        endpoints: [URL], dialTimeout: Duration, requestTimeout: Duration, clock: any Clock<Duration>,
        taskExecutor: (any TaskExecutor)?
    ) {
        self.endpoints = endpoints
        self.dialTimeout = dialTimeout
        self.requestTimeout = requestTimeout
        self.sleeper = Sleeper(clock)
        self.taskExecutor = taskExecutor
        self.state = Mutex(State(healthy: Array(repeating: false, count: endpoints.count)))
        unarySession = URLSession(
            configuration: Self.configuration(idleTimeout: requestTimeout.timeInterval + 1, connectionsPerHost: 256),
            delegate: unaryRouter, delegateQueue: nil)
        // A watch stays open and idle for as long as nothing changes: no idle timeout, and no cap that
        // would queue a watch behind other watches to the same host.
        streamSession = URLSession(
            configuration: Self.configuration(idleTimeout: Self.noTimeout, connectionsPerHost: 100_000),
            delegate: streamRouter, delegateQueue: nil)
    }

    deinit {
        // A session keeps its delegate until invalidated.
        unarySession.invalidateAndCancel()
        streamSession.invalidateAndCancel()
    }

    /// A year: URLSession's timers take whole seconds, and zero would mean "expire at once".
    private static let noTimeout: TimeInterval = 365 * 86_400

    private static func configuration(idleTimeout: TimeInterval, connectionsPerHost: Int) -> URLSessionConfiguration {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = idleTimeout
        configuration.timeoutIntervalForResource = noTimeout
        configuration.httpMaximumConnectionsPerHost = connectionsPerHost
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        return configuration
    }

    /// Cancels every request and stream; later calls fail with `alreadyClosed`.
    func close() {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            unarySession.invalidateAndCancel()
            streamSession.invalidateAndCancel()
        }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    // MARK: - Unary

    /// POSTs `body` to `path` and returns the whole reply, whatever its status.
    ///
    /// - Throws: `unavailable` when no endpoint could be reached (the last failure as cause);
    ///   `timeout` when the request outlived ``requestTimeout``; `unavailable` when a connection broke
    ///   mid-request of a non-idempotent call; `malformedResponse` for a peer that does not speak
    ///   HTTP; `alreadyClosed`; `CancellationError`.
    func post(path: String, body: Data, token: String?, idempotent: Bool) async throws -> HTTPReply {
        var lastFailure: TransportFailure?
        for index in order() {
            try Task.checkCancellation()
            do {
                try await probeIfNeeded(index)
                let request = makeRequest(index, path: path, body: body, token: token, timeout: requestTimeout)
                let reply = try await send(request, endpoint: index, timeout: requestTimeout)
                markHealthy(index)
                return reply
            } catch let failure as TransportFailure {
                markUnhealthy(index)
                lastFailure = failure
                if failure.kind == .closed { throw failure.batonError }
                if failure.duringProbe || failure.kind == .connect { continue }
                if failure.kind == .lost && idempotent { continue }
                throw failure.batonError
            }
        }
        throw unreachable(lastFailure)
    }

    private func unreachable(_ lastFailure: TransportFailure?) -> BatonError {
        let list = endpoints.map(\.absoluteString).joined(separator: ", ")
        return BatonError(.unavailable, "no etcd endpoint answered (\(list))", cause: lastFailure)
    }

    /// The endpoints to try, the remembered one first.
    private func order() -> [Int] {
        let start = state.withLock { $0.preferred }
        return (0..<endpoints.count).map { (start + $0) % endpoints.count }
    }

    private func markHealthy(_ index: Int) {
        state.withLock { state in
            state.healthy[index] = true
            state.preferred = index
        }
    }

    /// Forgets that `index` works, so the next request probes it (or another) first.
    func markUnhealthy(_ index: Int) {
        state.withLock { $0.healthy[index] = false }
    }

    /// Checks within the dial timeout that `index` answers HTTP at all, unless it is known to.
    private func probeIfNeeded(_ index: Int) async throws {
        guard !state.withLock({ $0.healthy[index] }) else { return }
        var request = makeRequest(index, path: "/version", body: nil, token: nil, timeout: dialTimeout)
        request.httpMethod = "GET"
        do {
            _ = try await send(request, endpoint: index, timeout: dialTimeout)
        } catch var failure as TransportFailure {
            failure.duringProbe = true
            throw failure
        }
    }

    private func makeRequest(_ index: Int, path: String, body: Data?, token: String?, timeout: Duration) -> URLRequest {
        // EtcdGateway.init checked that every endpoint is `scheme://host[:port]` and forms URLs.
        guard let url = URL(string: endpoints[index].absoluteString + path) else {
            preconditionFailure("cannot build a URL for \(path)")
        }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = body
        request.timeoutInterval = timeout.timeInterval + 1  // a backstop; the watchdog comes first
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue(token, forHTTPHeaderField: "Authorization") }
        return request
    }

    /// One request to one endpoint, bounded by `timeout`.
    private func send(_ request: URLRequest, endpoint index: Int, timeout: Duration) async throws -> HTTPReply {
        let task = try makeTask(unarySession, request)
        let handler = UnaryHandler()
        unaryRouter.register(handler, for: task)
        let endpoint = endpoints[index].absoluteString
        let watchdog = Task(executorPreference: taskExecutor) { [sleeper] in
            try await sleeper.sleep(for: timeout)
            let failure = TransportFailure(
                kind: .timeout, endpoint: endpoint, underlying: URLError(.timedOut), timeout: timeout)
            handler.reply.resolve(.failure(failure))
            task.cancel()
        }
        defer { watchdog.cancel() }
        task.resume()
        do {
            return try await withTaskCancellationHandler {
                try await handler.reply.value()
            } onCancel: {
                handler.reply.resolve(.failure(CancellationError()))
                task.cancel()
            }
        } catch {
            unaryRouter.remove(task)
            task.cancel()
            throw classify(error, endpoint: endpoint)
        }
    }

    private func makeTask(_ session: URLSession, _ request: URLRequest) throws -> URLSessionDataTask {
        // Under the lock: a task must not be created on a session that `close()` invalidated.
        try state.withLock { state in
            guard !state.closed else { throw BatonError(.alreadyClosed, "the etcd gateway was closed") }
            return session.dataTask(with: request)
        }
    }

    /// Turns what URLSession reported into a ``TransportFailure``; passes other errors through.
    func classify(_ error: any Error, endpoint: String) -> any Error {
        if error is CancellationError || error is TransportFailure || error is BatonError { return error }
        let kind: TransportFailure.Kind
        if let error = error as? URLError {
            switch error.code {
            case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet, .badURL:
                kind = .connect
            case .timedOut: kind = .timeout
            case .unsupportedURL: kind = .notHTTP
            case .cancelled: kind = isClosed ? .closed : .lost
            default: kind = .lost
            }
        } else {
            kind = .lost
        }
        return TransportFailure(kind: kind, endpoint: endpoint, underlying: error, timeout: requestTimeout)
    }

    // MARK: - Streams

    /// Opens a streaming POST (a watch) on the first endpoint that accepts the connection.
    ///
    /// Returns once the reply's headers arrived. The first line must arrive within
    /// ``requestTimeout``, or the stream ends with `timeout`.
    ///
    /// - Throws: as ``post(path:body:token:idempotent:)``.
    func openStream(path: String, body: Data, token: String?) async throws -> StreamConnection {
        var lastFailure: TransportFailure?
        for index in order() {
            try Task.checkCancellation()
            do {
                try await probeIfNeeded(index)
                var request = makeRequest(index, path: path, body: body, token: token, timeout: requestTimeout)
                request.timeoutInterval = Self.noTimeout
                let connection = try await startStream(request, endpoint: index)
                markHealthy(index)
                return connection
            } catch let failure as TransportFailure {
                markUnhealthy(index)
                lastFailure = failure
                if failure.kind == .closed { throw failure.batonError }
                if failure.duringProbe || failure.kind == .connect { continue }
                throw failure.batonError
            }
        }
        throw unreachable(lastFailure)
    }

    private func startStream(_ request: URLRequest, endpoint index: Int) async throws -> StreamConnection {
        let task = try makeTask(streamSession, request)
        let handler = StreamHandler()
        streamRouter.register(handler, for: task)
        let router = streamRouter
        handler.onTermination {
            router.remove(task)
            task.cancel()
        }
        let endpoint = endpoints[index].absoluteString
        let timeout = requestTimeout
        let watchdog = Task(executorPreference: taskExecutor) { [sleeper] in
            try await sleeper.sleep(for: timeout)
            handler.fail(
                TransportFailure(kind: .timeout, endpoint: endpoint, underlying: URLError(.timedOut), timeout: timeout))
        }
        handler.setFirstLineWatchdog(watchdog)
        task.resume()
        do {
            _ = try await handler.opened.value()
        } catch {
            handler.fail(error)
            throw classify(error, endpoint: endpoint)
        }
        return StreamConnection(lines: handler.lines, endpointIndex: index, endpoint: endpoint, transport: self) {
            handler.fail(CancellationError())
        }
    }
}

/// An open streaming reply: its lines, and a way to close it.
struct StreamConnection: Sendable {
    /// The reply's lines; the stream ends when the connection does, with the error that ended it.
    let lines: AsyncThrowingStream<[UInt8], any Error>
    let endpointIndex: Int
    let endpoint: String
    let transport: HTTPTransport
    /// Cancels the URLSession task (which closes the connection) and ends ``lines``.
    let cancel: @Sendable () -> Void

    /// The ``BatonError`` (or `CancellationError`) for an error that ended ``lines``.
    func batonError(for error: any Error) -> any Error {
        switch transport.classify(error, endpoint: endpoint) {
        case let failure as TransportFailure: failure.batonError
        case let other: other
        }
    }
}

/// How a request failed below HTTP, and whether sending it elsewhere is safe.
struct TransportFailure: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        /// The connection was refused or could not be made: the request never left.
        case connect
        /// The connection broke or the peer hung up: the request may have been applied.
        case lost
        /// No reply within the deadline.
        case timeout
        /// The peer does not speak HTTP.
        case notHTTP
        /// The transport was closed.
        case closed
    }

    var kind: Kind
    var endpoint: String
    var underlying: any Error
    var timeout: Duration
    /// Whether this happened while probing the endpoint (nothing was sent then).
    var duringProbe = false

    var description: String { "\(kind) at \(endpoint)\(duringProbe ? " (probe)" : ""): \(underlying)" }

    var batonError: BatonError {
        switch kind {
        case .connect: BatonError(.unavailable, "cannot connect to \(endpoint)", cause: self)
        case .lost: BatonError(.unavailable, "the connection to \(endpoint) broke", cause: self)
        case .timeout:
            BatonError(.timeout, "\(endpoint) did not answer within \(timeout)", cause: self)
        case .notHTTP: BatonError(.malformedResponse, "\(endpoint) does not answer HTTP", cause: self)
        case .closed: BatonError(.alreadyClosed, "the etcd gateway was closed", cause: self)
        }
    }
}

extension Duration {
    /// The duration in seconds, as Foundation's `TimeInterval`.
    var timeInterval: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}

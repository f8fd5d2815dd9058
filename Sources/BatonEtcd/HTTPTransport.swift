import BatonCore
import Foundation
import Synchronization

/// One etcd client URL, split for the socket and the `Host` header.
struct Endpoint: Sendable, Hashable {
    /// `http://host:port` as configured, without a trailing slash.
    var url: String
    var host: String
    var port: Int
    /// The `Host` header: `host:port`, IPv6 literals in brackets.
    var authority: String
}

/// The status and body of one HTTP exchange.
struct HTTPReply: Sendable {
    var status: Int
    var body: Data
}

/// HTTP/1.1 POSTs to etcd's gateway over its own sockets, with deadlines and endpoint failover.
///
/// Not URLSession: on Linux, FoundationNetworking crashes the process (`fatalError("Transfer
/// completed, but there's no response.")`) on every reply with HTTP trailers, and every error reply
/// of etcd's gateway has one (`Grpc-Trailer-Content-Type`). See ``HTTPResponseParser``.
///
/// - Dialling an endpoint is bounded by the dial timeout; a refused or timed-out dial moves on to
///   the next endpoint (nothing was sent). The endpoint that answered is tried first next time.
/// - Each request is bounded by the request timeout: past it, ``Deadlines`` closes the connection.
/// - An endpoint that failed is tried after the others, and probed (`GET /version` within the dial
///   timeout) before it is used again, so a frozen server costs at most one dial timeout, not one
///   request timeout per call.
/// - While streams (watches) are open to an endpoint, one watchdog per endpoint probes it whenever
///   nothing was heard from it for the keep-alive time; when the probe gets no answer within the
///   keep-alive timeout, every stream to that endpoint is closed, so its watches resume elsewhere.
/// - A request that may have reached the server is not sent again unless it is idempotent.
/// - Connections are kept alive and reused; a reused connection the server had already closed is
///   replaced before use.
final class HTTPTransport: Sendable {
    let endpoints: [Endpoint]
    let dialTimeout: Duration
    let requestTimeout: Duration
    /// When a silent endpoint with open streams is probed, and how long the probe may take; nil: never.
    let keepAlive: (time: Duration, timeout: Duration)?
    let sleeper: Sleeper
    let taskExecutor: (any TaskExecutor)?
    private let deadlines: Deadlines

    private struct State {
        var preferred = 0
        var healthy: [Bool]
        var closed = false
        var idle: [[SocketConnection]]
        var live: [ObjectIdentifier: SocketConnection] = [:]
        /// The endpoint of every open stream.
        var streams: [ObjectIdentifier: Int] = [:]
        /// Per endpoint, a count of everything heard from it: replies, stream lines, probes answered.
        var heard: [UInt64]
        /// Per endpoint, the keep-alive watchdog, while streams to it are open.
        var keepAliveWatchdogs: [Task<Void, any Error>?]
    }
    private let state: Mutex<State>
    private static let maximumIdlePerEndpoint = 16

    init(
        endpoints: [Endpoint], dialTimeout: Duration, requestTimeout: Duration,
        keepAlive: (time: Duration, timeout: Duration)?, clock: any Clock<Duration>, taskExecutor: (any TaskExecutor)?
    ) {
        self.endpoints = endpoints
        self.dialTimeout = dialTimeout
        self.requestTimeout = requestTimeout
        self.keepAlive = keepAlive
        self.sleeper = Sleeper(clock)
        self.taskExecutor = taskExecutor
        let timeouts = [dialTimeout, requestTimeout] + (keepAlive.map { [$0.timeout] } ?? [])
        self.deadlines = Deadlines(
            clock: clock, shortest: timeouts.min()!, longest: timeouts.max()!, taskExecutor: taskExecutor)
        self.state = Mutex(
            State(
                healthy: Array(repeating: true, count: endpoints.count),
                idle: Array(repeating: [], count: endpoints.count),
                heard: Array(repeating: 0, count: endpoints.count),
                keepAliveWatchdogs: Array(repeating: nil, count: endpoints.count)))
    }

    deinit { close() }

    /// Closes every connection, idle or busy (watch streams included); later calls fail with
    /// `alreadyClosed`.
    func close() {
        let (connections, watchdogs) = state.withLock { state in
            state.closed = true
            state.idle = state.idle.map { _ in [] }
            defer {
                state.live = [:]
                state.keepAliveWatchdogs = state.keepAliveWatchdogs.map { _ in nil }
            }
            return (Array(state.live.values), state.keepAliveWatchdogs.compactMap { $0 })
        }
        for watchdog in watchdogs { watchdog.cancel() }
        deadlines.close()
        for connection in connections { connection.close(TransportFailure.closed()) }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    private func checkOpen() throws {
        if isClosed { throw BatonError(.alreadyClosed, "the etcd gateway was closed") }
    }

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
                let reply = try await send(
                    index, method: "POST", path: path, body: body, token: token, timeout: requestTimeout,
                    idempotent: idempotent)
                markHealthy(index)
                return reply
            } catch let failure as TransportFailure {
                markUnhealthy(index)
                lastFailure = failure
                if failure.duringProbe || failure.kind == .connect { continue }
                if failure.kind == .lost && idempotent { continue }
                throw failure.batonError
            }
        }
        throw unreachable(lastFailure)
    }

    private func unreachable(_ lastFailure: TransportFailure?) -> BatonError {
        // Reachable, but not speaking HTTP: say so rather than "unavailable".
        if let lastFailure, lastFailure.kind == .notHTTP { return lastFailure.batonError }
        let list = endpoints.map(\.url).joined(separator: ", ")
        return BatonError(.unavailable, "no etcd endpoint answered (\(list))", cause: lastFailure)
    }

    /// The endpoints to try: the remembered one first, then the others in turn, those that failed
    /// last.
    private func order() -> [Int] {
        let (start, healthy) = state.withLock { ($0.preferred, $0.healthy) }
        let turn = (0..<endpoints.count).map { (start + $0) % endpoints.count }
        return turn.filter { healthy[$0] } + turn.filter { !healthy[$0] }
    }

    private func markHealthy(_ index: Int) {
        state.withLock { state in
            state.healthy[index] = true
            state.preferred = index
            state.heard[index] &+= 1
        }
    }

    /// Notes that `index` was heard from (a stream delivered a line).
    func heard(_ index: Int) {
        state.withLock { $0.heard[index] &+= 1 }
    }

    /// Forgets that `index` works, so the next request probes it before use.
    func markUnhealthy(_ index: Int) {
        state.withLock { $0.healthy[index] = false }
    }

    /// Checks within the dial timeout that `index` answers HTTP, unless it is known to.
    private func probeIfNeeded(_ index: Int) async throws {
        guard !state.withLock({ $0.healthy[index] }) else { return }
        do {
            _ = try await send(
                index, method: "GET", path: "/version", body: Data(), token: nil, timeout: dialTimeout, idempotent: true
            )
        } catch var failure as TransportFailure {
            failure.duringProbe = true
            throw failure
        }
    }

    /// One request to one endpoint over a pooled or new connection, bounded by `timeout`.
    private func send(
        _ index: Int, method: String, path: String, body: Data, token: String?, timeout: Duration, idempotent: Bool
    ) async throws -> HTTPReply {
        let request = requestBytes(index, method: method, path: path, body: body, token: token)
        var retriedStale = false
        while true {
            let (connection, reused) = try await checkout(index)
            do {
                let (reply, keepAlive) = try await exchange(connection, request, endpoint: index, timeout: timeout)
                if keepAlive { checkin(index, connection) } else { release(connection) }
                return reply
            } catch let failure as TransportFailure {
                release(connection)
                // The server had closed the kept-alive connection before reading this request.
                if failure.kind == .lost, reused, !failure.receivedAnything, idempotent, !retriedStale {
                    retriedStale = true
                    continue
                }
                throw failure
            } catch {
                release(connection)
                throw error
            }
        }
    }

    private func requestBytes(_ index: Int, method: String, path: String, body: Data, token: String?) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(endpoints[index].authority)\r\n"
        head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        if let token { head += "Authorization: \(token)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    /// Writes a request and reads the whole reply; returns it and whether the connection can be reused.
    private func exchange(
        _ connection: SocketConnection, _ request: [UInt8], endpoint index: Int, timeout: Duration
    ) async throws -> (HTTPReply, Bool) {
        let endpoint = endpoints[index].url
        let deadline = armTimeout(connection, endpoint: index, after: timeout)
        defer { deadlines.disarm(deadline) }
        var parser = HTTPResponseParser()
        do {
            try await connection.write(request, sleeper: sleeper)
            var head: HTTPHead?
            var body = Data()
            while !parser.isComplete {
                let bytes = try await connection.read()
                let events = bytes.isEmpty ? try endOfStream(&parser) : try parser.feed(bytes)
                for event in events {
                    switch event {
                    case .head(let value): head = value
                    case .body(let chunk): body.append(contentsOf: chunk)
                    case .end: break
                    }
                }
            }
            guard let head else { throw HTTPResponseParser.Malformed(description: "a response without a head") }
            return (HTTPReply(status: head.status, body: body), head.keepAlive)
        } catch {
            throw failure(error, endpoint: endpoint, receivedAnything: parser.receivedAnything)
        }
    }

    /// The connection closed: the end of a close-delimited body, or a broken exchange.
    private func endOfStream(_ parser: inout HTTPResponseParser) throws -> [HTTPResponseParser.Event] {
        do {
            return try parser.finish()
        } catch {
            throw SocketConnection.SocketError(operation: "read: the server closed the connection", code: ECONNRESET)
        }
    }

    /// Turns a socket or parser error into a ``TransportFailure``; passes others through.
    func failure(_ error: any Error, endpoint: String, receivedAnything: Bool) -> any Error {
        switch error {
        case let failure as TransportFailure: return failure
        case is CancellationError, is BatonError: return error
        case let malformed as HTTPResponseParser.Malformed:
            return TransportFailure(kind: .notHTTP, endpoint: endpoint, underlying: malformed, timeout: requestTimeout)
        default:
            var failure = TransportFailure(kind: .lost, endpoint: endpoint, underlying: error, timeout: requestTimeout)
            failure.receivedAnything = receivedAnything
            return failure
        }
    }

    // MARK: - Connections

    private func checkout(_ index: Int) async throws -> (SocketConnection, reused: Bool) {
        let pooled: SocketConnection? = try state.withLock { state in
            guard !state.closed else { throw BatonError(.alreadyClosed, "the etcd gateway was closed") }
            while let candidate = state.idle[index].popLast() {
                if candidate.isReusable { return candidate }
                state.live[ObjectIdentifier(candidate)] = nil
            }
            return nil
        }
        if let pooled { return (pooled, true) }
        return (try await dial(index), false)
    }

    /// A new connection to `index` within the dial timeout.
    ///
    /// - Throws: a ``TransportFailure`` of kind `connect` (refused, unreachable, or no connection
    ///   within the dial timeout), `alreadyClosed`, `CancellationError`.
    func dial(_ index: Int) async throws -> SocketConnection {
        try checkOpen()
        let endpoint = endpoints[index]
        let connection: SocketConnection
        do {
            connection = try await SocketConnection.connect(
                host: endpoint.host, port: endpoint.port, timeout: dialTimeout, sleeper: sleeper)
        } catch is SocketConnection.TimeoutReached {
            throw TransportFailure(
                kind: .connect, endpoint: endpoint.url, underlying: nil, timeout: dialTimeout,
                detail: "no connection within the dial timeout")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw TransportFailure(kind: .connect, endpoint: endpoint.url, underlying: error, timeout: dialTimeout)
        }
        let registered = state.withLock { state in
            guard !state.closed else { return false }
            state.live[ObjectIdentifier(connection)] = connection
            return true
        }
        guard registered else {
            connection.close()
            throw BatonError(.alreadyClosed, "the etcd gateway was closed")
        }
        return connection
    }

    private func checkin(_ index: Int, _ connection: SocketConnection) {
        let keep = state.withLock { state in
            guard !state.closed, connection.isReusable, state.idle[index].count < Self.maximumIdlePerEndpoint else {
                state.live[ObjectIdentifier(connection)] = nil
                return false
            }
            state.idle[index].append(connection)
            return true
        }
        if !keep { connection.close() }
    }

    /// Closes a connection that will not be reused; stops its endpoint's keep-alive watchdog when it
    /// was the last stream there.
    func release(_ connection: SocketConnection) {
        let id = ObjectIdentifier(connection)
        let unneeded: Task<Void, any Error>? = state.withLock { state in
            state.live[id] = nil
            guard let index = state.streams.removeValue(forKey: id), !state.streams.values.contains(index) else {
                return nil
            }
            defer { state.keepAliveWatchdogs[index] = nil }
            return state.keepAliveWatchdogs[index]
        }
        unneeded?.cancel()
        connection.close()
    }

    // MARK: - Streams

    /// Opens a streaming POST (a watch) on a connection of its own, on the first endpoint that
    /// accepts it.
    ///
    /// The first line must arrive within ``requestTimeout``, or the stream fails with `timeout`.
    ///
    /// - Throws: as ``post(path:body:token:idempotent:)``.
    func openStream(path: String, body: Data, token: String?) async throws -> StreamConnection {
        var lastFailure: TransportFailure?
        for index in order() {
            try Task.checkCancellation()
            do {
                try await probeIfNeeded(index)
                let connection = try await dial(index)
                do {
                    try await connection.write(
                        requestBytes(index, method: "POST", path: path, body: body, token: token), sleeper: sleeper)
                } catch {
                    release(connection)
                    throw failure(error, endpoint: endpoints[index].url, receivedAnything: false)
                }
                let deadline = armTimeout(connection, endpoint: index, after: requestTimeout)
                registerStream(connection, to: index)
                return StreamConnection(
                    socket: connection, endpointIndex: index, transport: self, firstLineDeadline: deadline)
            } catch let failure as TransportFailure {
                markUnhealthy(index)
                lastFailure = failure
                if failure.duringProbe || failure.kind == .connect { continue }
                throw failure.batonError
            }
        }
        throw unreachable(lastFailure)
    }

    /// Closes `connection` to `index` with `timeout` once `timeout` has passed, unless disarmed first.
    /// - Returns: the deadline's token.
    private func armTimeout(_ connection: SocketConnection, endpoint index: Int, after timeout: Duration) -> UInt64 {
        let endpoint = endpoints[index].url
        let failure = TransportFailure(kind: .timeout, endpoint: endpoint, underlying: nil, timeout: timeout)
        return deadlines.arm(connection, timeout: timeout, failure: failure)
    }

    /// Disarms a deadline ``openStream(path:body:token:)`` armed for a stream's first line.
    func disarmDeadline(_ token: UInt64) {
        deadlines.disarm(token)
    }

    // MARK: - Keep-alive

    /// Records an open stream to `index`; starts the endpoint's keep-alive watchdog with its first.
    private func registerStream(_ connection: SocketConnection, to index: Int) {
        state.withLock { state in
            state.streams[ObjectIdentifier(connection)] = index
            guard let keepAlive, state.keepAliveWatchdogs[index] == nil else { return }
            state.keepAliveWatchdogs[index] = Task(executorPreference: taskExecutor) { [self] in
                try await watchOverStreams(to: index, every: keepAlive.time, timeout: keepAlive.timeout)
            }
        }
    }

    /// Runs while streams to `index` are open: after every `interval` in which nothing was heard from
    /// `index`, probes it.
    private func watchOverStreams(to index: Int, every interval: Duration, timeout: Duration) async throws {
        var seen = state.withLock { $0.heard[index] }
        while true {
            try await sleeper.sleep(for: interval)
            if state.withLock({ $0.heard[index] }) == seen { try await probeStreams(to: index, timeout: timeout) }
            seen = state.withLock { $0.heard[index] }
        }
    }

    /// Asks `index` for `/version` within `timeout`. An answer counts as heard; no answer closes every
    /// stream to `index` (their readers then see the connection fail and reconnect) and marks it
    /// failed.
    private func probeStreams(to index: Int, timeout: Duration) async throws {
        do {
            _ = try await send(
                index, method: "GET", path: "/version", body: Data(), token: nil, timeout: timeout, idempotent: true)
            state.withLock { $0.heard[index] &+= 1 }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            markUnhealthy(index)
            let silent = state.withLock { state in
                state.streams.filter { $0.value == index }.compactMap { state.live[$0.key] }
            }
            let failure = TransportFailure(
                kind: .timeout, endpoint: endpoints[index].url, underlying: nil, timeout: timeout,
                detail: "no answer to a keep-alive probe")
            for connection in silent { connection.close(failure) }
        }
    }
}

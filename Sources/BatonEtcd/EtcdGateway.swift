import BatonCore
import Foundation
import Synchronization

/// A client of a real etcd (3.4 or later) through its v3 HTTP/JSON gateway (`/v3/...`).
///
/// Offers etcd's KV, lease and watch services with Baton's value types; `Baton` adapts it to its
/// `Backend` protocol. Every call is one HTTP POST to the first endpoint that answers (see
/// ``EtcdConfiguration``); every call has a deadline; every failure is a `BatonError`.
///
/// With a username and password, the gateway authenticates on its first call, sends the token with
/// every request and authenticates again once when etcd answers `invalid auth token` (tokens expire
/// after five minutes by default).
///
/// Call ``close()`` when done: it cancels in-flight requests and ends every watch.
public final class EtcdGateway: Sendable {
    /// The configuration the gateway was created with.
    public let configuration: EtcdConfiguration

    let transport: HTTPTransport
    let taskExecutor: (any TaskExecutor)?
    private let token = Mutex<String?>(nil)

    struct Watches {
        var nextID = 0
        var running: [Int: Task<Void, Never>] = [:]
    }
    let watches = Mutex(Watches())

    /// Creates a gateway for `configuration`; no connection is made until the first call.
    ///
    /// - Parameters:
    ///   - configuration: endpoints, timeouts and credentials.
    ///   - clock: the clock every timeout and reconnection back-off is measured on.
    ///   - taskExecutor: the executor preference of every task the gateway starts (request
    ///     watchdogs, watch streams); `nil` for the default executor.
    /// - Throws: `BatonError(.invalidArgument)` when there is no endpoint, an endpoint is not an
    ///   `http://` URL of a host and optional port (no path, query or credentials; `https` is not
    ///   supported), a timeout or keep-alive time is not positive, or only one of username and
    ///   password is given.
    public init(
        configuration: EtcdConfiguration,
        clock: any Clock<Duration> = ContinuousClock(),  // determinism: real I/O measures real time
        taskExecutor: (any TaskExecutor)? = nil
    ) throws {
        guard !configuration.endpoints.isEmpty else {
            throw BatonError(.invalidArgument, "an etcd configuration needs at least one endpoint")
        }
        let endpoints = try configuration.endpoints.map(Self.endpoint)
        guard configuration.dialTimeout > .zero, configuration.requestTimeout > .zero,
            configuration.keepAliveTimeout > .zero, configuration.keepAliveTime.map({ $0 > .zero }) ?? true
        else {
            throw BatonError(.invalidArgument, "dial, request and keep-alive times must be positive")
        }
        guard (configuration.username == nil) == (configuration.password == nil) else {
            throw BatonError(.invalidArgument, "etcd credentials need both a username and a password")
        }
        if let username = configuration.username, username.isEmpty {
            throw BatonError(.invalidArgument, "the etcd username is empty")
        }
        self.configuration = configuration
        self.taskExecutor = taskExecutor
        self.transport = HTTPTransport(
            endpoints: endpoints, dialTimeout: configuration.dialTimeout, requestTimeout: configuration.requestTimeout,
            keepAlive: configuration.keepAliveTime.map { (time: $0, timeout: configuration.keepAliveTimeout) },
            clock: clock, taskExecutor: taskExecutor)
    }

    /// Parses `http://host[:port]` (a trailing slash is allowed; the port defaults to 80).
    private static func endpoint(_ text: String) throws -> Endpoint {
        let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
        guard let components = URLComponents(string: trimmed), components.scheme?.lowercased() == "http",
            let host = components.host, !host.isEmpty, components.path.isEmpty, components.query == nil,
            components.fragment == nil, components.user == nil, components.password == nil
        else {
            throw BatonError(
                .invalidArgument,
                "etcd endpoint \"\(text)\" is not an http:// URL of a host and port (https is not supported)")
        }
        let port = components.port ?? 80
        guard (1...65535).contains(port) else {
            throw BatonError(.invalidArgument, "etcd endpoint \"\(text)\" has an invalid port")
        }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let authority = bare.contains(":") ? "[\(bare)]:\(port)" : "\(bare):\(port)"
        return Endpoint(url: trimmed, host: bare, port: port, authority: authority)
    }

    /// Cancels in-flight requests, ends every watch stream with `alreadyClosed` and releases the
    /// HTTP sessions. Later calls fail with `alreadyClosed`. Calling it again does nothing.
    public func close() async {
        transport.close()
        let running = watches.withLock { watches in
            defer { watches.running = [:] }
            return Array(watches.running.values)
        }
        for task in running { task.cancel() }
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { transport.isClosed }

    func checkOpen() throws {
        if transport.isClosed { throw BatonError(.alreadyClosed, "the etcd gateway was closed") }
    }

    // MARK: - Requests

    /// POSTs a JSON request and decodes a 200 reply.
    ///
    /// An idempotent request that etcd answers with 503 (gRPC `Unavailable`: `leader changed`, `no
    /// leader`, a read index that timed out — a cluster electing a leader) is sent again after a
    /// pause of 50 ms doubling to 500 ms, for at most the request timeout in pauses, as Go's client
    /// retries its repeatable calls: a linearizable read in flight when a leader dies fails that way
    /// about a second later, once the new leader is elected.
    ///
    /// - Throws: the mapped gateway error for another status; `malformedResponse` for a body that
    ///   does not decode; transport errors as ``post(_:_:idempotent:)``.
    func call<Response: Decodable>(
        _ path: String, _ request: some Encodable, as type: Response.Type, idempotent: Bool
    ) async throws -> Response {
        let body = GatewayJSON.encode(request)
        var reply = try await post(path, body, idempotent: idempotent)
        var pause = Duration.milliseconds(50), paused = Duration.zero
        while idempotent, reply.status == 503, paused + pause <= configuration.requestTimeout {
            try await transport.sleeper.sleep(for: pause)
            paused += pause
            pause = min(pause * 2, .milliseconds(500))
            reply = try await post(path, body, idempotent: idempotent)
        }
        guard reply.status == 200 else { throw GatewayStatus.error(httpStatus: reply.status, body: reply.body) }
        return try GatewayJSON.decode(type, from: reply.body)
    }

    /// POSTs with the auth token, authenticating again once if etcd calls the token invalid.
    func post(_ path: String, _ body: Data, idempotent: Bool) async throws -> HTTPReply {
        try checkOpen()
        let token = try await currentToken()
        let reply = try await transport.post(path: path, body: body, token: token, idempotent: idempotent)
        guard let token, reply.status == 401,
            let wire = try? JSONDecoder().decode(WireErrorBody.self, from: reply.body), wire.code == 16
        else { return reply }
        forgetToken(token)
        let fresh = try await currentToken()
        return try await transport.post(path: path, body: body, token: fresh, idempotent: idempotent)
    }

    /// The header revision every top-level reply carries.
    ///
    /// - Throws: `malformedResponse` when it is missing: etcd always sends one.
    static func revision(_ header: WireHeader?, of what: String) throws -> Int64 {
        guard let revision = header?.revision?.value else {
            throw BatonError(.malformedResponse, "the \(what) reply has no header revision")
        }
        return revision
    }

    // MARK: - Authentication

    /// The token to send: `nil` without credentials; otherwise the cached one, or a new one.
    ///
    /// - Throws: `authenticationFailed` when etcd rejects the credentials.
    func currentToken() async throws -> String? {
        guard let name = configuration.username, let password = configuration.password else { return nil }
        if let cached = token.withLock({ $0 }) { return cached }
        let body = GatewayJSON.encode(WireAuthenticateRequest(name: name, password: password))
        let reply = try await transport.post(path: "/v3/auth/authenticate", body: body, token: nil, idempotent: true)
        guard reply.status == 200 else {
            let error = GatewayStatus.error(httpStatus: reply.status, body: reply.body)
            guard error.code == .invalidArgument || error.code == .authenticationFailed else { throw error }
            throw BatonError(
                .authenticationFailed, "etcd rejected the credentials of user \"\(name)\"", cause: error.cause ?? error)
        }
        let response = try GatewayJSON.decode(WireAuthenticateResponse.self, from: reply.body)
        guard let fresh = response.token, !fresh.isEmpty else {
            throw BatonError(
                .authenticationFailed,
                "etcd answered the authentication of \"\(name)\" without a token (is auth enabled?)")
        }
        token.withLock { $0 = fresh }
        return fresh
    }

    /// Drops `stale` so the next call authenticates again (unless another call already did).
    func forgetToken(_ stale: String) {
        token.withLock { if $0 == stale { $0 = nil } }
    }
}

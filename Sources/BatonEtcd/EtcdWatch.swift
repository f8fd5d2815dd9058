import BatonCore

/// Where a watch stands: the revision to resume from, and the reconnection back-off.
///
/// A pure value fed by the frames of the watch; ``EtcdWatch`` owns one per stream.
struct WatchCursor: Sendable, Equatable {
    /// The revision the next connection starts at; `nil` until a "from now" watch was created.
    private(set) var nextRevision: Int64?
    /// Whether etcd has confirmed the watch at least once.
    private(set) var wasCreated = false
    /// Connection failures since the last confirmed one.
    private(set) var failuresInRow = 0
    /// Whether the token was already refreshed since the last confirmed connection.
    private(set) var refreshedToken = false

    static let firstBackoff: Duration = .milliseconds(50)
    static let maximumBackoff: Duration = .seconds(1)

    /// A cursor for a watch from `startRevision` (`nil` or not positive: from the next write).
    init(startRevision: Int64?) {
        nextRevision = startRevision.flatMap { $0 > 0 ? $0 : nil }
    }

    /// `start_revision` for the next connection; 0 means "from now".
    var startRevision: Int64 { nextRevision ?? 0 }

    /// etcd confirmed the watch at store revision `revision`: a watch from now continues after it.
    mutating func created(at revision: Int64) {
        if nextRevision == nil { nextRevision = revision + 1 }
        wasCreated = true
        failuresInRow = 0
        refreshedToken = false
    }

    /// Events up to the last one's revision were delivered; resume after it.
    ///
    /// Only event revisions count: a catch-up batch's header revision can run ahead of its events.
    mutating func delivered(_ response: WatchResponse) {
        guard let last = response.events.last?.kv.modRevision else { return }
        nextRevision = max(nextRevision ?? 0, last + 1)
    }

    /// The connection dropped; returns how long to wait before reconnecting.
    mutating func dropped() -> Duration {
        let delay = Self.firstBackoff * (1 << min(failuresInRow, 10))
        failuresInRow += 1
        return min(delay, Self.maximumBackoff)
    }

    /// etcd rejected the token; returns whether to authenticate again (once per connection).
    mutating func tokenRejected() -> Bool {
        defer { refreshedToken = true }
        return !refreshedToken
    }
}

/// The task behind one watch stream: connects, reads frames, reconnects, resumes.
final class EtcdWatch: Sendable {
    let gateway: EtcdGateway
    let request: WatchRequest
    let output: AsyncThrowingStream<WatchResponse, any Error>.Continuation
    /// Resolved with the header revision of etcd's first confirmation of the watch, or with the error
    /// that prevented it.
    let created = OneShot<Int64>()
    let id: Int

    init(
        gateway: EtcdGateway, id: Int, request: WatchRequest,
        output: AsyncThrowingStream<WatchResponse, any Error>.Continuation
    ) {
        self.gateway = gateway
        self.id = id
        self.request = request
        self.output = output
    }

    private enum Outcome {
        /// The consumer stopped or the gateway closed.
        case cancelled
        /// The connection ended or could not be made; worth reconnecting.
        case dropped(any Error)
        /// etcd refused the auth token.
        case tokenRejected(any Error)
        /// The watch cannot go on.
        case fatal(any Error)
    }

    /// Runs until the watch ends; finishes ``output`` and resolves ``created`` on every path.
    func run() async {
        defer { gateway.watchEnded(id) }
        var cursor = WatchCursor(startRevision: request.startRevision)
        while true {
            switch await connectOnce(&cursor) {
            case .cancelled:
                let error: any Error =
                    gateway.isClosed ? BatonError(.alreadyClosed, "the etcd gateway was closed") : CancellationError()
                created.resolve(.failure(error))
                if gateway.isClosed { output.finish(throwing: error) } else { output.finish() }
                return
            case .fatal(let error):
                end(with: error)
                return
            case .tokenRejected(let error):
                guard cursor.tokenRejected() else {
                    end(with: BatonError(.authenticationFailed, "etcd rejected the watch's auth token", cause: error))
                    return
                }
            case .dropped(let error):
                guard cursor.wasCreated else {
                    end(with: error)
                    return
                }
                do {
                    try await gateway.transport.sleeper.sleep(for: cursor.dropped())
                } catch {
                    continue  // cancelled: the next connectOnce notices and reports it
                }
            }
        }
    }

    private func end(with error: any Error) {
        created.resolve(.failure(error))
        output.finish(throwing: error)
    }

    /// One connection: open it, relay its frames, report how it ended.
    private func connectOnce(_ cursor: inout WatchCursor) async -> Outcome {
        if Task.isCancelled { return .cancelled }
        let body = GatewayJSON.encode(
            WireWatchRequest(range: request.range, startRevision: cursor.startRevision, prevKV: request.prevKV))
        let token: String?
        var connection: StreamConnection
        do {
            token = try await gateway.currentToken()
            connection = try await gateway.transport.openStream(path: "/v3/watch", body: body, token: token)
        } catch {
            return outcome(of: error)
        }
        defer { connection.cancel() }
        do {
            while let line = try await connection.nextLine() {
                switch try WatchFrame.decode(line) {
                case .created(let revision):
                    cursor.created(at: revision)
                    created.resolve(.success(revision))
                case .events(let response):
                    cursor.delivered(response)
                    if !response.events.isEmpty { output.yield(response) }
                case .canceled(let compactRevision, let reason):
                    if compactRevision > 0 {
                        return .fatal(
                            BatonError(
                                .compacted,
                                "watch from revision \(cursor.startRevision) is below the compacted revision \(compactRevision)"
                            ))
                    }
                    return refusal(GatewayStatus.watchCancel(reason: reason), token: token)
                case .error(let code, let message):
                    // A server shutting down ends the stream with code 14 ("transport is closing")
                    // or 1 ("the client connection is closing"): like every error frame but a
                    // refusal of the request itself, that is a dropped connection.
                    let status = GatewayStatus(httpStatus: 200, grpcCode: code, message: message)
                    if [3, 7, 16].contains(code) { return refusal(status, token: token) }
                    gateway.transport.markUnhealthy(connection.endpointIndex)
                    return .dropped(status.batonError)
                }
            }
            if Task.isCancelled { return .cancelled }
            gateway.transport.markUnhealthy(connection.endpointIndex)
            return .dropped(BatonError(.unavailable, "the watch connection to \(connection.endpoint) ended"))
        } catch {
            if !(error is CancellationError) { gateway.transport.markUnhealthy(connection.endpointIndex) }
            return outcome(of: error)
        }
    }

    private func refusal(_ status: GatewayStatus, token: String?) -> Outcome {
        if status.isInvalidToken, let token {
            gateway.forgetToken(token)
            return .tokenRejected(status.batonError)
        }
        return .fatal(status.batonError)
    }

    private func outcome(of error: any Error) -> Outcome {
        if error is CancellationError || Task.isCancelled { return .cancelled }
        if let error = error as? BatonError {
            switch error.code {
            case .unavailable, .timeout: return .dropped(error)
            case .alreadyClosed: return .cancelled
            default: return .fatal(error)
            }
        }
        return .dropped(error)
    }
}

extension EtcdGateway {
    /// Forgets a watch whose task has ended.
    func watchEnded(_ id: Int) {
        _ = watches.withLock { $0.running.removeValue(forKey: id) }
    }
}

import BatonCore

/// How a request failed below HTTP, and whether sending it elsewhere is safe.
struct TransportFailure: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        /// The connection was refused or could not be made in time: the request never left.
        case connect
        /// The connection broke or the peer hung up: the request may have been applied.
        case lost
        /// No reply within the deadline.
        case timeout
        /// The peer does not speak HTTP/1.x.
        case notHTTP
        /// The transport was closed.
        case closed
    }

    var kind: Kind
    var endpoint: String
    var underlying: (any Error)?
    var timeout: Duration
    var detail: String?
    /// Whether this happened while probing the endpoint (nothing was sent then).
    var duringProbe = false
    /// Whether any byte of the reply had arrived.
    var receivedAnything = false

    init(kind: Kind, endpoint: String, underlying: (any Error)?, timeout: Duration, detail: String? = nil) {
        self.kind = kind
        self.endpoint = endpoint
        self.underlying = underlying
        self.timeout = timeout
        self.detail = detail
    }

    /// The error a connection is closed with when the gateway closes.
    static func closed() -> TransportFailure {
        TransportFailure(kind: .closed, endpoint: "", underlying: nil, timeout: .zero)
    }

    var description: String {
        let cause = [detail, underlying.map { "\($0)" }].compactMap { $0 }.joined(separator: ": ")
        return "\(kind) at \(endpoint)\(duringProbe ? " (probe)" : "")\(cause.isEmpty ? "" : ": " + cause)"
    }

    var batonError: BatonError {
        switch kind {
        case .connect: BatonError(.unavailable, "cannot connect to \(endpoint)", cause: self)
        case .lost: BatonError(.unavailable, "the connection to \(endpoint) broke", cause: self)
        case .timeout: BatonError(.timeout, "\(endpoint) did not answer within \(timeout)", cause: self)
        case .notHTTP: BatonError(.malformedResponse, "\(endpoint) does not answer HTTP/1.x", cause: self)
        case .closed: BatonError(.alreadyClosed, "the etcd gateway was closed", cause: self)
        }
    }
}

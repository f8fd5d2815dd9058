import BatonCore
import Foundation

/// A refusal from etcd as the gateway reports it: the HTTP status, the gRPC code and etcd's message.
///
/// Carried as the `cause` of the ``BatonError`` it is mapped to, so the original words stay visible.
public struct GatewayStatus: Error, Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status of the reply (200 for an error frame inside a stream).
    public var httpStatus: Int
    /// The gRPC status code etcd answered with (3 invalid argument, 5 not found, 11 out of range, …).
    public var grpcCode: Int
    /// etcd's message, e.g. `etcdserver: mvcc: required revision has been compacted`.
    public var message: String

    /// Creates a status.
    public init(httpStatus: Int, grpcCode: Int, message: String) {
        self.httpStatus = httpStatus
        self.grpcCode = grpcCode
        self.message = message
    }

    /// `HTTP <status>, gRPC code <code>: <message>`.
    public var description: String { "HTTP \(httpStatus), gRPC code \(grpcCode): \(message)" }

    /// Whether this is etcd's `invalid auth token` (gRPC 16): the token expired or was never valid,
    /// and authenticating again may help.
    var isInvalidToken: Bool { grpcCode == 16 }

    /// The ``BatonError`` this refusal means.
    ///
    /// gRPC codes map by etcd's sentinels: 3 → `invalidArgument` (`authenticationFailed` for bad
    /// credentials or a missing user name, `duplicateKey` for a txn writing one key twice); 11 →
    /// `compacted` / `futureRevision` (`invalidArgument` for a too large TTL); 5 → `leaseNotFound`;
    /// 9 → `leaseExists`; 7 and 16 → `authenticationFailed`; 4 → `timeout`; 8 for a request over the
    /// server's size limit (`received message larger than max`) → `invalidArgument`; 1, 2, 8, 10, 13, 14
    /// → `unavailable`; anything else → `invalidArgument`.
    var batonError: BatonError {
        let text = "etcd refused the request: \(message)"
        let code: BatonError.Code
        switch grpcCode {
        case 3:
            if message.contains("authentication failed") || message.contains("user name is empty") {
                code = .authenticationFailed
            } else if message.contains("duplicate key") {
                code = .duplicateKey
            } else {
                code = .invalidArgument
            }
        case 11:
            if message.contains("compacted") {
                code = .compacted
            } else if message.contains("future revision") {
                code = .futureRevision
            } else {
                code = .invalidArgument
            }
        case 5: code = message.contains("lease") ? .leaseNotFound : .invalidArgument
        case 9: code = message.contains("lease already exists") ? .leaseExists : .invalidArgument
        case 7, 16: code = .authenticationFailed
        case 4: code = .timeout
        case 8 where message.contains("larger than max"):
            code = .invalidArgument  // the request is over the server's size limit: sending it again cannot help
        case 1, 2, 8, 10, 13, 14: code = .unavailable
        default: code = .invalidArgument
        }
        return BatonError(code, text, cause: self)
    }

    /// Reads a non-200 unary reply.
    ///
    /// etcd's error body `{"error","message","code"}` gives a status; anything else (the text of a
    /// 404 or 405, an HTML page) means the server is not etcd's gateway: `malformedResponse`, or
    /// `unavailable` for 502–504 from something in between.
    static func error(httpStatus: Int, body: Data) -> BatonError {
        if let wire = try? JSONDecoder().decode(WireErrorBody.self, from: body) {
            let status = GatewayStatus(
                httpStatus: httpStatus, grpcCode: wire.code, message: wire.message ?? wire.error ?? "")
            return status.batonError
        }
        let text = "HTTP \(httpStatus) without an etcd error body: \(GatewayJSON.preview(body))"
        let cause = GatewayStatus(httpStatus: httpStatus, grpcCode: 2, message: GatewayJSON.preview(body))
        if (502...504).contains(httpStatus) { return BatonError(.unavailable, text, cause: cause) }
        return BatonError(.malformedResponse, text, cause: cause)
    }

    /// Reads the reason of a watch etcd cancelled, e.g. `rpc error: code = Unauthenticated desc = …`.
    static func watchCancel(reason: String) -> GatewayStatus {
        let names: [(String, Int)] = [
            ("Unauthenticated", 16), ("PermissionDenied", 7), ("InvalidArgument", 3), ("OutOfRange", 11),
            ("NotFound", 5), ("FailedPrecondition", 9), ("DeadlineExceeded", 4), ("Unavailable", 14),
        ]
        let code = names.first { reason.contains("code = \($0.0)") }?.1 ?? 2
        let message = reason.range(of: "desc = ").map { String(reason[$0.upperBound...]) } ?? reason
        return GatewayStatus(httpStatus: 200, grpcCode: code, message: message)
    }
}

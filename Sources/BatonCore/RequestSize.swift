/// The largest request the store takes, in bytes of keys and values: etcd's default
/// `--max-request-bytes`, 1.5 MiB.
///
/// etcd refuses a larger request (`etcdserver: request is too large`, or the gRPC layer's `received
/// message larger than max`), so the local store refuses it too: code that runs on `local:` then does
/// not fail on its first large name or value in production. etcd counts its encoding's few bytes per
/// field as well, so a request just under this limit may still be too large for etcd.
public let maximumRequestBytes = 1_572_864

extension KeyRange {
    /// The bytes the range sends: its key, and its end when it has an explicit one.
    var requestBytes: Int {
        switch self {
        case .key(let key), .prefix(let key), .atLeast(let key): key.bytes.count
        case .interval(let lower, let upper): lower.bytes.count + upper.bytes.count
        }
    }
}

extension PutRequest {
    /// The bytes the put sends: its key and value.
    var requestBytes: Int { key.bytes.count + value.count }
}

extension Compare {
    var requestBytes: Int {
        if case .value(let value) = target { return range.requestBytes + value.count }
        return range.requestBytes
    }
}

extension TxnOp {
    var requestBytes: Int {
        switch self {
        case .range(let request): request.range.requestBytes
        case .put(let request): request.requestBytes
        case .deleteRange(let request): request.range.requestBytes
        case .txn(let request): request.requestBytes
        }
    }
}

extension TxnRequest {
    /// The bytes of every key and value in the request, nested transactions included.
    var requestBytes: Int {
        compare.reduce(0) { $0 + $1.requestBytes } + success.reduce(0) { $0 + $1.requestBytes }
            + failure.reduce(0) { $0 + $1.requestBytes }
    }
}

/// Throws `invalidArgument` when a request of `bytes` is over ``maximumRequestBytes``.
@inline(__always)
func checkRequestSize(_ bytes: Int, _ what: @autoclosure () -> String) throws {
    guard bytes <= maximumRequestBytes else {
        throw BatonError(
            .invalidArgument,
            "request is too large: \(what()) carries \(bytes) bytes of keys and values, over the \(maximumRequestBytes)-byte limit etcd applies by default"
        )
    }
}

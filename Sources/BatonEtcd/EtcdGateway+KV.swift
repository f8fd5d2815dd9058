import BatonCore

extension EtcdGateway {
    /// Range reads the keys in `request.range` (`POST /v3/kv/range`), linearizably unless
    /// `request.serializable`.
    ///
    /// Sort order and target, limit, a past `revision`, keys-only, count-only, the create-revision
    /// bounds and `serializable` are sent as etcd's `RangeRequest` fields. Idempotent: a read whose
    /// connection broke is tried on the next endpoint.
    ///
    /// - Throws: `BatonError` with `compacted` / `futureRevision` for a bad `revision`;
    ///   `invalidArgument`; `unavailable` when no endpoint answers; `timeout` after the request
    ///   timeout; `malformedResponse`; `authenticationFailed`; `alreadyClosed`. `CancellationError`
    ///   when the calling task is cancelled (the HTTP request is cancelled too).
    public func range(_ request: RangeRequest) async throws -> RangeResponse {
        let response = try await call(
            "/v3/kv/range", WireRangeRequest(request), as: WireRangeResponse.self, idempotent: true)
        return response.model(revision: try Self.revision(response.header, of: "range"))
    }

    /// Put writes one key (`POST /v3/kv/put`), attached to `request.lease` when given.
    ///
    /// Not retried once it may have reached the server: a put whose connection broke mid-request
    /// fails with `unavailable` and may or may not have been applied.
    ///
    /// - Throws: `BatonError` with `leaseNotFound` when the lease does not exist; `invalidArgument`
    ///   (e.g. an empty key); `unavailable`, `timeout`, `malformedResponse`, `authenticationFailed`,
    ///   `alreadyClosed`; `CancellationError`.
    public func put(_ request: PutRequest) async throws -> PutResponse {
        let response = try await call(
            "/v3/kv/put", WirePutRequest(request), as: WirePutResponse.self, idempotent: false)
        return response.model(revision: try Self.revision(response.header, of: "put"))
    }

    /// DeleteRange deletes the keys in `request.range` (`POST /v3/kv/deleterange`) in one revision.
    ///
    /// - Throws: as ``put(_:)``.
    public func deleteRange(_ request: DeleteRangeRequest) async throws -> DeleteRangeResponse {
        let response = try await call(
            "/v3/kv/deleterange", WireDeleteRangeRequest(request), as: WireDeleteRangeResponse.self,
            idempotent: false)
        return response.model(revision: try Self.revision(response.header, of: "deleterange"))
    }

    /// Txn runs `request` atomically (`POST /v3/kv/txn`): if every compare holds, the success ops,
    /// otherwise the failure ops, nested transactions included.
    ///
    /// A missing lease compares as lease 0. The responses follow the ops of the branch that ran.
    ///
    /// - Throws: `BatonError` with `duplicateKey` when the txn writes one key twice; `leaseNotFound`;
    ///   `compacted` / `futureRevision` from a read op; otherwise as ``put(_:)``.
    public func txn(_ request: TxnRequest) async throws -> TxnResponse {
        let response = try await call(
            "/v3/kv/txn", WireTxnRequest(request), as: WireTxnResponse.self, idempotent: false)
        return try response.model(revision: try Self.revision(response.header, of: "txn"))
    }

    /// Compact discards the key history at and below `revision` (`POST /v3/kv/compaction`).
    ///
    /// Watches and reads at compacted revisions then fail with `compacted`.
    ///
    /// - Throws: `BatonError` with `compacted` when `revision` is already compacted;
    ///   `futureRevision` when it is above the store's revision; otherwise as ``put(_:)``.
    public func compact(revision: Int64) async throws {
        let response = try await call(
            "/v3/kv/compaction", WireCompactionRequest(revision: WireInt64(revision)),
            as: WireHeaderOnlyResponse.self, idempotent: false)
        _ = try Self.revision(response.header, of: "compaction")
    }
}

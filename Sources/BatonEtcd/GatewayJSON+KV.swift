import BatonCore

// The KV service's messages: `/v3/kv/range`, `put`, `deleterange`, `txn`, `compaction`.

/// `etcdserverpb.RangeRequest`.
struct WireRangeRequest: Encodable, Sendable {
    var key: WireBytes
    var rangeEnd: WireBytes?
    var limit: WireInt64?
    var revision: WireInt64?
    var sortOrder: String?
    var sortTarget: String?
    var keysOnly: Bool?
    var countOnly: Bool?
    var minCreateRevision: WireInt64?
    var maxCreateRevision: WireInt64?
    var serializable: Bool?

    enum CodingKeys: String, CodingKey {
        case key, limit, revision, serializable
        case rangeEnd = "range_end"
        case sortOrder = "sort_order"
        case sortTarget = "sort_target"
        case keysOnly = "keys_only"
        case countOnly = "count_only"
        case minCreateRevision = "min_create_revision"
        case maxCreateRevision = "max_create_revision"
    }

    init(_ request: RangeRequest) {
        let bounds = request.range.wireBounds
        key = WireBytes(bounds.key)
        rangeEnd = bounds.rangeEnd.map(WireBytes.init)
        limit = WireInt64.nonZero(request.limit)
        revision = WireInt64.nonZero(request.revision)
        switch request.sortOrder {
        case .none: sortOrder = nil
        case .ascend: sortOrder = "ASCEND"
        case .descend: sortOrder = "DESCEND"
        }
        switch request.sortTarget {
        case .key: sortTarget = nil
        case .version: sortTarget = "VERSION"
        case .create: sortTarget = "CREATE"
        case .mod: sortTarget = "MOD"
        case .value: sortTarget = "VALUE"
        }
        keysOnly = request.keysOnly ? true : nil
        countOnly = request.countOnly ? true : nil
        minCreateRevision = WireInt64.nonZero(request.minCreateRevision)
        maxCreateRevision = WireInt64.nonZero(request.maxCreateRevision)
        serializable = request.serializable ? true : nil
    }
}

/// `etcdserverpb.RangeResponse`.
struct WireRangeResponse: Decodable, Sendable {
    var header: WireHeader?
    var kvs: [WireKeyValue]?
    var more: Bool?
    var count: WireInt64?

    /// The response; `revision` stands in when the header has none (a txn's sub-responses).
    func model(revision fallback: Int64) -> RangeResponse {
        RangeResponse(
            revision: header?.revision?.value ?? fallback, kvs: kvs?.map(\.model) ?? [], more: more ?? false,
            count: Int(count?.value ?? 0))
    }
}

/// `etcdserverpb.PutRequest`.
struct WirePutRequest: Encodable, Sendable {
    var key: WireBytes
    var value: WireBytes?
    var lease: WireInt64?
    var prevKV: Bool?

    enum CodingKeys: String, CodingKey {
        case key, value, lease
        case prevKV = "prev_kv"
    }

    init(_ request: PutRequest) {
        key = WireBytes(request.key.bytes)
        value = WireBytes.nonEmpty(request.value)
        lease = request.lease.flatMap { WireInt64.nonZero($0.rawValue) }
        prevKV = request.prevKV ? true : nil
    }
}

/// `etcdserverpb.PutResponse`.
struct WirePutResponse: Decodable, Sendable {
    var header: WireHeader?
    var prevKV: WireKeyValue?

    enum CodingKeys: String, CodingKey {
        case header
        case prevKV = "prev_kv"
    }

    func model(revision fallback: Int64) -> PutResponse {
        PutResponse(revision: header?.revision?.value ?? fallback, prevKV: prevKV?.model)
    }
}

/// `etcdserverpb.DeleteRangeRequest`.
struct WireDeleteRangeRequest: Encodable, Sendable {
    var key: WireBytes
    var rangeEnd: WireBytes?
    var prevKV: Bool?

    enum CodingKeys: String, CodingKey {
        case key
        case rangeEnd = "range_end"
        case prevKV = "prev_kv"
    }

    init(_ request: DeleteRangeRequest) {
        let bounds = request.range.wireBounds
        key = WireBytes(bounds.key)
        rangeEnd = bounds.rangeEnd.map(WireBytes.init)
        prevKV = request.prevKV ? true : nil
    }
}

/// `etcdserverpb.DeleteRangeResponse`.
struct WireDeleteRangeResponse: Decodable, Sendable {
    var header: WireHeader?
    var deleted: WireInt64?
    var prevKVs: [WireKeyValue]?

    enum CodingKeys: String, CodingKey {
        case header, deleted
        case prevKVs = "prev_kvs"
    }

    func model(revision fallback: Int64) -> DeleteRangeResponse {
        DeleteRangeResponse(
            revision: header?.revision?.value ?? fallback, deleted: Int(deleted?.value ?? 0),
            prevKVs: prevKVs?.map(\.model) ?? [])
    }
}

/// `etcdserverpb.Compare`: result, target, key and the one target field that goes with the target.
struct WireCompare: Encodable, Sendable {
    var result: String
    var target: String
    var key: WireBytes
    var rangeEnd: WireBytes?
    var version: WireInt64?
    var createRevision: WireInt64?
    var modRevision: WireInt64?
    var value: WireBytes?
    var lease: WireInt64?

    enum CodingKeys: String, CodingKey {
        case result, target, key, version, value, lease
        case createRevision = "create_revision"
        case modRevision = "mod_revision"
        case rangeEnd = "range_end"
    }

    init(_ compare: Compare) {
        switch compare.op {
        case .equal: result = "EQUAL"
        case .notEqual: result = "NOT_EQUAL"
        case .less: result = "LESS"
        case .greater: result = "GREATER"
        }
        let bounds = compare.range.wireBounds
        key = WireBytes(bounds.key)
        rangeEnd = bounds.rangeEnd.map(WireBytes.init)
        // The target field is sent even when zero: it is what the compare compares with.
        switch compare.target {
        case .version(let version):
            target = "VERSION"
            self.version = WireInt64(version)
        case .createRevision(let revision):
            target = "CREATE"
            createRevision = WireInt64(revision)
        case .modRevision(let revision):
            target = "MOD"
            modRevision = WireInt64(revision)
        case .value(let bytes):
            target = "VALUE"
            value = WireBytes(bytes)
        case .lease(let id):
            target = "LEASE"
            lease = WireInt64(id?.rawValue ?? 0)
        }
    }
}

/// `etcdserverpb.RequestOp`: exactly one of its fields is set.
struct WireRequestOp: Encodable, Sendable {
    var requestRange: WireRangeRequest?
    var requestPut: WirePutRequest?
    var requestDeleteRange: WireDeleteRangeRequest?
    var requestTxn: WireTxnRequest?

    enum CodingKeys: String, CodingKey {
        case requestRange = "request_range"
        case requestPut = "request_put"
        case requestDeleteRange = "request_delete_range"
        case requestTxn = "request_txn"
    }

    init(_ op: TxnOp) {
        switch op {
        case .range(let request): requestRange = WireRangeRequest(request)
        case .put(let request): requestPut = WirePutRequest(request)
        case .deleteRange(let request): requestDeleteRange = WireDeleteRangeRequest(request)
        case .txn(let request): requestTxn = WireTxnRequest(request)
        }
    }
}

/// `etcdserverpb.TxnRequest`.
struct WireTxnRequest: Encodable, Sendable {
    var compare: [WireCompare]?
    var success: [WireRequestOp]?
    var failure: [WireRequestOp]?

    init(_ request: TxnRequest) {
        compare = request.compare.isEmpty ? nil : request.compare.map(WireCompare.init)
        success = request.success.isEmpty ? nil : request.success.map(WireRequestOp.init)
        failure = request.failure.isEmpty ? nil : request.failure.map(WireRequestOp.init)
    }
}

/// `etcdserverpb.ResponseOp`: exactly one of its fields is set.
struct WireResponseOp: Decodable, Sendable {
    var responseRange: WireRangeResponse?
    var responsePut: WirePutResponse?
    var responseDeleteRange: WireDeleteRangeResponse?
    var responseTxn: WireTxnResponse?

    enum CodingKeys: String, CodingKey {
        case responseRange = "response_range"
        case responsePut = "response_put"
        case responseDeleteRange = "response_delete_range"
        case responseTxn = "response_txn"
    }

    /// - Throws: `malformedResponse` unless exactly one field is set.
    func model(revision: Int64) throws -> TxnOpResponse {
        let present = [responseRange != nil, responsePut != nil, responseDeleteRange != nil, responseTxn != nil]
        guard present.filter({ $0 }).count == 1 else {
            throw BatonError(.malformedResponse, "a txn response op must carry exactly one response")
        }
        if let response = responseRange { return .range(response.model(revision: revision)) }
        if let response = responsePut { return .put(response.model(revision: revision)) }
        if let response = responseDeleteRange { return .deleteRange(response.model(revision: revision)) }
        guard let response = responseTxn else {
            throw BatonError(.malformedResponse, "a txn response op must carry exactly one response")
        }
        return .txn(try response.model(revision: revision))
    }
}

/// `etcdserverpb.TxnResponse`; a failed txn has no `succeeded`.
struct WireTxnResponse: Decodable, Sendable {
    var header: WireHeader?
    var succeeded: Bool?
    var responses: [WireResponseOp]?

    func model(revision fallback: Int64) throws -> TxnResponse {
        let revision = header?.revision?.value ?? fallback
        return TxnResponse(
            revision: revision, succeeded: succeeded ?? false,
            responses: try (responses ?? []).map { try $0.model(revision: revision) })
    }
}

/// `etcdserverpb.CompactionRequest`.
struct WireCompactionRequest: Encodable, Sendable {
    var revision: WireInt64
}

/// A reply that carries only a header (compaction, lease revoke).
struct WireHeaderOnlyResponse: Decodable, Sendable {
    var header: WireHeader?
}

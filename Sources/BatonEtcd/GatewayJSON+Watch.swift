import BatonCore

// The watch service's messages: the `create_request` sent to `/v3/watch` and the frames that come back.

/// `{"create_request": etcdserverpb.WatchCreateRequest}`.
struct WireWatchRequest: Encodable, Sendable {
    struct Create: Encodable, Sendable {
        var key: WireBytes
        var rangeEnd: WireBytes?
        var startRevision: WireInt64?
        var prevKV: Bool?

        enum CodingKeys: String, CodingKey {
            case key
            case rangeEnd = "range_end"
            case startRevision = "start_revision"
            case prevKV = "prev_kv"
        }
    }

    var createRequest: Create

    enum CodingKeys: String, CodingKey {
        case createRequest = "create_request"
    }

    /// A watch of `range` from `startRevision` (0: from the next write).
    init(range: KeyRange, startRevision: Int64, prevKV: Bool) {
        let bounds = range.wireBounds
        createRequest = Create(
            key: WireBytes(bounds.key), rangeEnd: bounds.rangeEnd.map(WireBytes.init),
            startRevision: WireInt64.nonZero(startRevision), prevKV: prevKV ? true : nil)
    }
}

/// `mvccpb.Event`; a PUT has no `type` (it is the zero value).
struct WireEvent: Decodable, Sendable {
    var type: WireEventType?
    var kv: WireKeyValue
    var prevKV: WireKeyValue?

    enum CodingKeys: String, CodingKey {
        case type, kv
        case prevKV = "prev_kv"
    }

    var model: WatchEvent {
        WatchEvent(kind: type == .delete ? .delete : .put, kv: kv.model, prevKV: prevKV?.model)
    }
}

/// `mvccpb.Event.EventType`: a name in replies; a number is accepted too.
enum WireEventType: Decodable, Sendable {
    case put, delete

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let name = try? container.decode(String.self) {
            switch name {
            case "PUT": self = .put
            case "DELETE": self = .delete
            default:
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown event type \(name)")
            }
        } else {
            switch try container.decode(Int.self) {
            case 0: self = .put
            case 1: self = .delete
            case let other:
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown event type \(other)")
            }
        }
    }
}

/// `etcdserverpb.WatchResponse`, the `result` of one watch frame.
struct WireWatchResponse: Decodable, Sendable {
    var header: WireHeader?
    var created: Bool?
    var canceled: Bool?
    var compactRevision: WireInt64?
    var cancelReason: String?
    var events: [WireEvent]?

    enum CodingKeys: String, CodingKey {
        case header, created, canceled, events
        case compactRevision = "compact_revision"
        case cancelReason = "cancel_reason"
    }
}

/// What one line of `/v3/watch` means to the watcher.
enum WatchFrame: Sendable, Equatable {
    /// The watch is registered; the header revision is the store revision it was created at.
    case created(revision: Int64)
    /// A batch of events (possibly none: a progress notification).
    case events(WatchResponse)
    /// The server cancelled the watch: below a compaction (`compactRevision` > 0) or for `reason`.
    case canceled(compactRevision: Int64, reason: String)
    /// The stream ended with an error frame (`grpc_code` 14 when the server shuts down).
    case error(grpcCode: Int, message: String)

    /// Decodes one line.
    ///
    /// A frame that is both created and canceled (etcd does this when the token is refused) is
    /// `canceled`.
    ///
    /// - Throws: `malformedResponse` for a line that is not a watch frame.
    static func decode(_ line: [UInt8]) throws -> WatchFrame {
        let wire = try GatewayJSON.decode(WireStreamLine<WireWatchResponse>.self, from: .init(line))
        if let error = wire.error {
            return .error(grpcCode: error.grpcCode ?? 2, message: error.message ?? "")
        }
        guard let result = wire.result else {
            throw BatonError(.malformedResponse, "a watch frame has neither result nor error")
        }
        if result.canceled == true {
            return .canceled(compactRevision: result.compactRevision?.value ?? 0, reason: result.cancelReason ?? "")
        }
        guard let revision = result.header?.revision?.value else {
            throw BatonError(.malformedResponse, "a watch frame has no header revision")
        }
        if result.created == true { return .created(revision: revision) }
        return .events(WatchResponse(revision: revision, events: result.events?.map(\.model) ?? []))
    }
}

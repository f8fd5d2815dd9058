import BatonCore
import Foundation

/// The JSON of etcd's v3 gateway: the value types every message shares, and the coders.
///
/// The wire rules (see `shared/etcd/WIRE.md`): field names are the `.proto` names; every int64 in a
/// response is a decimal string (numbers are accepted too); bytes are padded standard base64; zero
/// values are omitted, so every field is optional on the way in and left out on the way out when it
/// is zero.
enum GatewayJSON {
    /// Encodes a request body: by its own ``GatewayJSONWriter`` code when it has some (the requests of
    /// every lock cycle), else with JSONEncoder, keys sorted. A body is the same bytes every time.
    static func encode(_ value: some Encodable) -> Data {
        if let writable = value as? any GatewayJSONWritable {
            var writer = GatewayJSONWriter()
            writable.write(to: &writer)
            return Data(writer.bytes)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(value)
        } catch {
            // Only strings, booleans and arrays of them are encoded; JSONEncoder cannot fail on those.
            preconditionFailure("encoding a gateway request failed: \(error)")
        }
    }

    /// Decodes a response body.
    ///
    /// - Throws: `BatonError(.malformedResponse)` with the decoding error as cause when the body is
    ///   not JSON or does not have the expected shape and types.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw BatonError(
                .malformedResponse, "etcd gateway sent a \(T.self) that cannot be decoded: \(preview(data))",
                cause: error)
        }
    }

    /// The start of a body as text, for error messages.
    static func preview(_ data: Data, limit: Int = 160) -> String {
        let text = String(decoding: data.prefix(limit), as: UTF8.self)
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return data.count > limit ? flat + "…" : flat
    }
}

/// An int64 as the gateway writes it: a decimal string; a JSON number is accepted too.
///
/// Encoded as a string, so IDs above 2^53 survive any JSON reader.
struct WireInt64: Codable, Hashable, Sendable {
    var value: Int64

    init(_ value: Int64) { self.value = value }

    /// `nil` for zero, so zero values are left out of requests as the gateway leaves them out of replies.
    static func nonZero(_ value: Int64) -> WireInt64? { value == 0 ? nil : WireInt64(value) }
    static func nonZero(_ value: Int) -> WireInt64? { nonZero(Int64(value)) }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard let value = Int64(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "\"\(text)\" is not a decimal int64")
            }
            self.value = value
        } else {
            self.value = try container.decode(Int64.self)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(String(value))
    }
}

/// Bytes as the gateway writes them: padded standard base64, decoded strictly by ``Base64``.
struct WireBytes: Codable, Hashable, Sendable {
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// `nil` for no bytes, so an empty value is left out as the gateway leaves it out.
    static func nonEmpty(_ bytes: [UInt8]) -> WireBytes? { bytes.isEmpty ? nil : WireBytes(bytes) }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let bytes = Base64.decode(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\"\(text)\" is not padded standard base64")
        }
        self.bytes = bytes
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Base64.encode(bytes))
    }
}

/// `etcdserverpb.ResponseHeader`; only the revision matters here.
struct WireHeader: Decodable, Sendable {
    var revision: WireInt64?
}

/// `mvccpb.KeyValue`.
struct WireKeyValue: Decodable, Sendable {
    var key: WireBytes
    var createRevision: WireInt64?
    var modRevision: WireInt64?
    var version: WireInt64?
    var value: WireBytes?
    var lease: WireInt64?

    enum CodingKeys: String, CodingKey {
        case key, version, value, lease
        case createRevision = "create_revision"
        case modRevision = "mod_revision"
    }

    var model: KeyValue {
        KeyValue(
            key: Key(bytes: key.bytes), value: value?.bytes ?? [], createRevision: createRevision?.value ?? 0,
            modRevision: modRevision?.value ?? 0, version: version?.value ?? 0,
            lease: lease.flatMap { $0.value == 0 ? nil : LeaseID($0.value) })
    }
}

/// The body of a failed unary call: `{"error":"msg","message":"msg","code":<gRPC code>}`.
struct WireErrorBody: Decodable, Sendable {
    var error: String?
    var message: String?
    var code: Int
}

/// The error frame that ends a stream: `{"error":{"grpc_code":14,"http_code":503,"message":"…"}}`.
struct WireStreamError: Decodable, Sendable {
    var grpcCode: Int?
    var httpCode: Int?
    var message: String?

    enum CodingKeys: String, CodingKey {
        case message
        case grpcCode = "grpc_code"
        case httpCode = "http_code"
    }
}

/// One line of a streaming reply: `{"result":…}` or `{"error":…}`.
struct WireStreamLine<Result: Decodable & Sendable>: Decodable, Sendable {
    var result: Result?
    var error: WireStreamError?
}

extension KeyRange {
    /// The `key` and `range_end` etcd reads for this range.
    ///
    /// As clientv3 does: a prefix or lower bound of no bytes becomes `"\0"` (etcd rejects an empty
    /// key), "to the end of the keyspace" is `range_end` `"\0"`, and one key has no `range_end`. An
    /// interval whose upper bound is empty holds no key; it is sent as `key == range_end`, which etcd
    /// reads as empty.
    var wireBounds: (key: [UInt8], rangeEnd: [UInt8]?) {
        func nonEmpty(_ key: Key) -> [UInt8] { key.bytes.isEmpty ? [0] : key.bytes }
        switch self {
        case .key(let key):
            return (key.bytes, nil)
        case .prefix(let prefix):
            return (nonEmpty(prefix), prefix.prefixEnd?.bytes ?? [0])
        case .interval(let lower, let upper):
            return upper.bytes.isEmpty ? (nonEmpty(lower), nonEmpty(lower)) : (nonEmpty(lower), upper.bytes)
        case .atLeast(let lower):
            return (nonEmpty(lower), [0])
        }
    }
}

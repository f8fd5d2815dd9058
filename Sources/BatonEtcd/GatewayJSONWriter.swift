/// Writes the JSON of the requests every lock cycle sends (KV requests, transactions, watch
/// creation) without JSONEncoder, which costs tens of microseconds per body on Linux: a measurable
/// share of the client's CPU when it shares a machine with etcd.
///
/// Writes only what those bodies hold: objects, arrays, booleans and strings that need no escaping
/// (padded base64, decimal digits, enum names). Members come in declaration order, not sorted.
struct GatewayJSONWriter {
    private(set) var bytes: [UInt8] = []
    /// Whether a value was just written, so the next member or element needs a comma.
    private var afterValue = false

    init() { bytes.reserveCapacity(512) }

    /// Writes an object whose members `body` writes.
    mutating func object(_ body: (inout GatewayJSONWriter) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "{"))
        afterValue = false
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        afterValue = true
    }

    /// Writes an array of `items`, each written by `element`.
    mutating func array<T>(_ items: [T], _ element: (inout GatewayJSONWriter, T) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "["))
        afterValue = false
        for item in items { element(&self, item) }
        bytes.append(UInt8(ascii: "]"))
        afterValue = true
    }

    /// Starts a member; the next value written is its value.
    mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        afterValue = false
    }

    /// Writes a string that needs no escaping.
    mutating func string(_ text: String) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: text.utf8)
        bytes.append(UInt8(ascii: "\""))
        afterValue = true
    }

    mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        afterValue = true
    }

    private mutating func separate() {
        if afterValue { bytes.append(UInt8(ascii: ",")) }
    }

    // Members that are left out when nil, as the gateway leaves zero values out.

    mutating func member(_ name: StaticString, _ value: WireBytes?) {
        guard let value else { return }
        key(name)
        string(Base64.encode(value.bytes))
    }

    mutating func member(_ name: StaticString, _ value: WireInt64?) {
        guard let value else { return }
        key(name)
        string(String(value.value))
    }

    mutating func member(_ name: StaticString, _ value: Bool?) {
        guard let value else { return }
        key(name)
        bool(value)
    }

    mutating func member(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    mutating func member(_ name: StaticString, _ value: (some GatewayJSONWritable)?) {
        guard let value else { return }
        key(name)
        value.write(to: &self)
    }

    mutating func member(_ name: StaticString, _ values: [some GatewayJSONWritable]?) {
        guard let values else { return }
        key(name)
        array(values) { writer, value in value.write(to: &writer) }
    }
}

/// A request body that writes its own JSON with ``GatewayJSONWriter``; its `Encodable` conformance
/// must describe the same object.
protocol GatewayJSONWritable: Encodable {
    func write(to json: inout GatewayJSONWriter)
}

extension WireRangeRequest: GatewayJSONWritable {
    func write(to json: inout GatewayJSONWriter) {
        json.object { json in
            json.member("key", key)
            json.member("range_end", rangeEnd)
            json.member("limit", limit)
            json.member("revision", revision)
            json.member("sort_order", sortOrder)
            json.member("sort_target", sortTarget)
            json.member("serializable", serializable)
            json.member("keys_only", keysOnly)
            json.member("count_only", countOnly)
            json.member("min_create_revision", minCreateRevision)
            json.member("max_create_revision", maxCreateRevision)
        }
    }
}

extension WirePutRequest: GatewayJSONWritable {
    func write(to json: inout GatewayJSONWriter) {
        json.object { json in
            json.member("key", key)
            json.member("value", value)
            json.member("lease", lease)
            json.member("prev_kv", prevKV)
        }
    }
}

extension WireDeleteRangeRequest: GatewayJSONWritable {
    func write(to json: inout GatewayJSONWriter) {
        json.object { json in
            json.member("key", key)
            json.member("range_end", rangeEnd)
            json.member("prev_kv", prevKV)
        }
    }
}

extension WireCompare: GatewayJSONWritable {
    func write(to json: inout GatewayJSONWriter) {
        json.object { json in
            json.member("result", result)
            json.member("target", target)
            json.member("key", key)
            json.member("range_end", rangeEnd)
            json.member("version", version)
            json.member("create_revision", createRevision)
            json.member("mod_revision", modRevision)
            json.member("value", value)
            json.member("lease", lease)
        }
    }
}

extension WireRequestOp: GatewayJSONWritable {
    func write(to json: inout GatewayJSONWriter) {
        json.object { json in
            json.member("request_range", requestRange)
            json.member("request_put", requestPut)
            json.member("request_delete_range", requestDeleteRange)
            json.member("request_txn", requestTxn)
        }
    }
}

extension WireTxnRequest: GatewayJSONWritable {
    func write(to json: inout GatewayJSONWriter) {
        json.object { json in
            json.member("compare", compare)
            json.member("success", success)
            json.member("failure", failure)
        }
    }
}

extension WireWatchRequest: GatewayJSONWritable {
    func write(to json: inout GatewayJSONWriter) {
        json.object { json in
            json.key("create_request")
            json.object { json in
                json.member("key", createRequest.key)
                json.member("range_end", createRequest.rangeEnd)
                json.member("start_revision", createRequest.startRevision)
                json.member("prev_kv", createRequest.prevKV)
            }
        }
    }
}

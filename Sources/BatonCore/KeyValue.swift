/// A lease's identity: a 64-bit ID, written in etcd keys as lowercase hex without padding.
public struct LeaseID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The ID as etcd sends it.
    public var rawValue: Int64
    /// Creates a lease ID.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    /// Lowercase hex, no `0x`, no padding: the suffix of etcd's mutex and election keys.
    public var hex: String { String(UInt64(bitPattern: rawValue), radix: 16) }

    /// Orders leases by ID.
    public static func < (lhs: LeaseID, rhs: LeaseID) -> Bool { lhs.rawValue < rhs.rawValue }
    /// The ID in hex.
    public var description: String { hex }
}

/// A key's current value and its MVCC bookkeeping, as etcd's `mvccpb.KeyValue`.
public struct KeyValue: Hashable, Sendable, CustomStringConvertible {
    /// The key.
    public var key: Key
    /// The value's bytes (empty for keys-only reads and for delete events).
    public var value: [UInt8]
    /// The revision of the write that created this generation of the key.
    public var createRevision: Int64
    /// The revision of the latest write to the key.
    public var modRevision: Int64
    /// How many times the key was written in this generation (1 after creation; 0 once deleted).
    public var version: Int64
    /// The lease the key is attached to, if any.
    public var lease: LeaseID?

    /// Creates a key-value record.
    public init(
        key: Key, value: [UInt8] = [], createRevision: Int64 = 0, modRevision: Int64 = 0,
        version: Int64 = 0, lease: LeaseID? = nil
    ) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }

    /// The value as UTF-8 text.
    public var valueString: String { String(decoding: value, as: UTF8.self) }

    public var description: String {
        "\(key)=\(valueString)@c\(createRevision)m\(modRevision)v\(version)\(lease.map { "l\($0)" } ?? "")"
    }
}

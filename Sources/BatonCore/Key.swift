/// A key in the keyspace: raw bytes, ordered byte by byte as etcd orders them.
///
/// Swift's `String` comparison is by Unicode canonical order, not by bytes, so keys are bytes.
public struct Key: Hashable, Comparable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The key's bytes.
    public var bytes: [UInt8]

    /// Creates a key from raw bytes.
    public init(bytes: [UInt8]) { self.bytes = bytes }
    /// Creates a key from the UTF-8 encoding of `string`.
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.init(value) }

    /// Orders keys byte by byte, a proper prefix first (as etcd's `bytes.Compare`).
    public static func < (lhs: Key, rhs: Key) -> Bool {
        lhs.order(ofPrefix: lhs.bytes.count, comparedWith: rhs) < 0
    }

    /// How the first `length` bytes of this key order against `other`: negative before, zero equal,
    /// positive after. Compares a key's directory without building the directory's key.
    func order(ofPrefix length: Int, comparedWith other: Key) -> Int {
        order(ofPrefix: length, comparedWith: other, prefix: other.bytes.count)
    }

    /// How the first `length` bytes of this key order against the first `otherLength` bytes of
    /// `other`: compares two directories of keys without building either.
    func order(ofPrefix length: Int, comparedWith other: Key, prefix otherLength: Int) -> Int {
        // A plain loop over buffers: the generic `lexicographicallyPrecedes` is several times slower
        // in unoptimised builds, and key comparison is the keyspace's innermost operation.
        bytes.withUnsafeBufferPointer { all in
            other.bytes.withUnsafeBufferPointer { whole in
                let left = UnsafeBufferPointer(rebasing: all[..<length])
                let right = UnsafeBufferPointer(rebasing: whole[..<otherLength])
                let common = Swift.min(left.count, right.count)
                var offset = 0
                while offset < common {
                    let (l, r) = (left[offset], right[offset])
                    if l != r { return l < r ? -1 : 1 }
                    offset += 1
                }
                return left.count - right.count
            }
        }
    }

    /// Hashes the bytes in one call: the synthesized conformance feeds the hasher byte by byte, and
    /// keys are hashed on every write (lease attachments, watches on one key).
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Whether the key starts with `prefix`'s bytes.
    public func hasPrefix(_ prefix: Key) -> Bool { bytes.starts(with: prefix.bytes) }

    /// The key followed by `suffix`.
    public func appending(_ suffix: String) -> Key { Key(bytes: bytes + Array(suffix.utf8)) }

    /// The smallest key greater than every key with this prefix, or `nil` when there is none
    /// (the prefix is empty or all `0xff`), meaning "to the end of the keyspace".
    public var prefixEnd: Key? {
        var end = bytes
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return Key(bytes: end)
            }
            end.removeLast()
        }
        return nil
    }

    /// The key as UTF-8 text (invalid sequences repaired), for messages and traces.
    public var description: String { String(decoding: bytes, as: UTF8.self) }
}

/// Which keys a range, delete or watch covers.
public enum KeyRange: Hashable, Sendable, CustomStringConvertible {
    /// Exactly one key.
    case key(Key)
    /// Every key starting with the prefix (an empty prefix: every key).
    case prefix(Key)
    /// Keys `k` with `lower <= k < upper`.
    case interval(Key, Key)
    /// Every key greater than or equal to the bound.
    case atLeast(Key)

    /// The smallest key in the range.
    public var lowerBound: Key {
        switch self {
        case .key(let k), .prefix(let k), .interval(let k, _), .atLeast(let k): k
        }
    }

    /// The first key past the range; `nil` for "to the end of the keyspace". For `.key` it is the
    /// key followed by a zero byte.
    public var upperBound: Key? {
        switch self {
        case .key(let k): Key(bytes: k.bytes + [0])
        case .prefix(let p): p.prefixEnd
        case .interval(_, let upper): upper
        case .atLeast: nil
        }
    }

    /// Whether `key` is in the range.
    public func contains(_ key: Key) -> Bool {
        switch self {
        case .key(let k): key == k
        case .prefix(let p): key.hasPrefix(p)
        case .interval(let lower, let upper): lower <= key && key < upper
        case .atLeast(let lower): lower <= key
        }
    }

    public var description: String {
        switch self {
        case .key(let k): "\(k)"
        case .prefix(let p): "\(p)*"
        case .interval(let l, let u): "[\(l), \(u))"
        case .atLeast(let l): "[\(l), ∞)"
        }
    }
}

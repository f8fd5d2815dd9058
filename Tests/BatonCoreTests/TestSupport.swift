import Testing

@testable import BatonCore

extension Array where Element == UInt8 {
    /// The UTF-8 bytes of `string`.
    init(_ string: String) { self = Array(string.utf8) }
}

extension StoreMachine {
    /// Puts `key = value`, optionally with a lease.
    @discardableResult
    mutating func put(_ key: Key, _ value: String = "", lease: LeaseID? = nil) throws -> PutResponse {
        try put(PutRequest(key: key, value: Array(value), lease: lease))
    }

    /// The live key-value of `key`.
    func get(_ key: Key) throws -> KeyValue? {
        try range(RangeRequest(.key(key))).kvs.first
    }

    /// The keys of a range result, as strings.
    func keys(_ request: RangeRequest) throws -> [String] {
        try range(request).kvs.map(\.key.description)
    }

    /// Every live key-value, in key order.
    func everything(at revision: Int64 = 0) throws -> [KeyValue] {
        try range(RangeRequest(.prefix(""), revision: revision)).kvs
    }
}

/// Expects `body` to throw a `BatonError` with `code`.
func expectError<T>(
    _ code: BatonError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T
) {
    let error = #expect(throws: BatonError.self, sourceLocation: sourceLocation) { _ = try body() }
    #expect(error?.code == code, sourceLocation: sourceLocation)
}

/// One condition of a transaction, as etcd's `Compare`: on a single key, or on every key in a range.
///
/// A missing key compares as create revision 0, mod revision 0, version 0 and no lease. A value
/// compare on a missing key never holds, whatever the operator, as in etcd (its API cannot tell a
/// missing value from an empty one). Values compare byte by byte; leases by ID (no lease is 0).
public struct Compare: Hashable, Sendable {
    /// The comparison operator.
    public enum Operator: Hashable, Sendable { case equal, notEqual, less, greater }

    /// The field compared and the value it is compared with.
    public enum Target: Hashable, Sendable {
        case version(Int64)
        case createRevision(Int64)
        case modRevision(Int64)
        case value([UInt8])
        case lease(LeaseID?)
    }

    /// The keys compared: one key, or (etcd's `range_end`) every key in a range.
    public var range: KeyRange
    /// The field and the value it is compared with.
    public var target: Target
    /// How the key's field compares with the target value: `less` means field < value.
    public var op: Operator

    /// Creates a compare of `key`'s field with `target` by `op`.
    public init(_ key: Key, _ target: Target, _ op: Operator) {
        self.init(.key(key), target, op)
    }

    /// Creates a compare that holds when every key in `range` compares with `target` by `op`. A
    /// range without keys compares as one missing key, as in etcd: `.createRevision(0), .equal` on
    /// a prefix holds exactly when nothing is under it.
    public init(_ range: KeyRange, _ target: Target, _ op: Operator) {
        self.range = range
        self.target = target
        self.op = op
    }
}

/// One operation in a transaction branch.
///
/// Not `indirect`: a nested transaction's operations are already behind its arrays, and boxing every
/// operation would allocate once per operation.
public enum TxnOp: Hashable, Sendable {
    /// A read; it sees the branch's earlier writes.
    case range(RangeRequest)
    /// A write of one key.
    case put(PutRequest)
    /// A delete of keys.
    case deleteRange(DeleteRangeRequest)
    /// A nested transaction.
    case txn(TxnRequest)
}

/// The result of one transaction operation.
///
/// Not `indirect`, as ``TxnOp``: a nested result's responses are already behind its array.
public enum TxnOpResponse: Hashable, Sendable {
    /// The result of a read.
    case range(RangeResponse)
    /// The result of a put.
    case put(PutResponse)
    /// The result of a delete.
    case deleteRange(DeleteRangeResponse)
    /// The result of a nested transaction.
    case txn(TxnResponse)

    /// The range result, if this is one.
    public var range: RangeResponse? {
        if case .range(let r) = self { return r }
        return nil
    }
}

/// An atomic if/then/else over the keyspace, as etcd's `TxnRequest`.
///
/// All writes of a transaction share one revision; reads later in a branch see its earlier writes.
/// Writing one key twice in a transaction is an error (`duplicateKey`), as in etcd.
public struct TxnRequest: Hashable, Sendable {
    /// Conditions, all of which must hold for `success` to run.
    public var compare: [Compare]
    /// Operations run when every compare holds.
    public var success: [TxnOp]
    /// Operations run otherwise.
    public var failure: [TxnOp]

    /// Creates a transaction.
    public init(compare: [Compare] = [], success: [TxnOp] = [], failure: [TxnOp] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }
}

/// The result of a transaction.
public struct TxnResponse: Hashable, Sendable {
    /// The store revision after the transaction.
    public var revision: Int64
    /// Whether every compare held (and `success` ran).
    public var succeeded: Bool
    /// One response per operation of the branch that ran.
    public var responses: [TxnOpResponse]

    /// Creates a transaction result.
    public init(revision: Int64, succeeded: Bool, responses: [TxnOpResponse]) {
        self.revision = revision
        self.succeeded = succeeded
        self.responses = responses
    }
}

/// One condition of a transaction, as etcd's `Compare` on a single key.
///
/// A missing key compares as create revision 0, mod revision 0, version 0, empty value, no lease.
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

    public var key: Key
    public var target: Target
    public var op: Operator

    public init(_ key: Key, _ target: Target, _ op: Operator) {
        self.key = key
        self.target = target
        self.op = op
    }
}

/// One operation in a transaction branch.
public indirect enum TxnOp: Hashable, Sendable {
    case range(RangeRequest)
    case put(PutRequest)
    case deleteRange(DeleteRangeRequest)
    case txn(TxnRequest)
}

/// The result of one transaction operation.
public indirect enum TxnOpResponse: Hashable, Sendable {
    case range(RangeResponse)
    case put(PutResponse)
    case deleteRange(DeleteRangeResponse)
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

    public init(revision: Int64, succeeded: Bool, responses: [TxnOpResponse]) {
        self.revision = revision
        self.succeeded = succeeded
        self.responses = responses
    }
}

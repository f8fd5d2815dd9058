/// Transactions, in etcd's three steps, so that a failing transaction applies nothing:
///
/// 1. Reject a request that writes a key twice (`duplicateKey`), by etcd's rule: within one branch, no
///    two puts of a key and no put inside a deleted range, counting both branches of nested
///    transactions (a key put in both branches of one nested transaction is fine). Overlapping
///    deletes are allowed. The check looks at the request only, not at the data.
/// 2. Evaluate every compare on the path taken, nested ones included, against the keyspace as it was
///    before the transaction, and check that path's operations: puts name existing leases
///    (`leaseNotFound`), reads name servable revisions (`futureRevision`, `compacted`).
/// 3. Run the path: writes share the next revision and later reads see earlier writes.
extension Keyspace {
    /// Runs a transaction; `leaseExists` tells whether a put's lease may be attached.
    /// - Throws: `duplicateKey`, `leaseNotFound`, `futureRevision`, `compacted`; nothing is applied then.
    mutating func txn(
        _ request: TxnRequest, leaseExists: (LeaseID) -> Bool
    ) throws -> (TxnResponse, ChangeSet?) {
        _ = try Self.writtenKeys(request.success)
        _ = try Self.writtenKeys(request.failure)
        var path: [Bool] = []
        try plan(request, path: &path, leaseExists: leaseExists)
        var write = PendingWrite(revision: revision + 1)
        var step = 0
        var response = execute(request, path: path, step: &step, write: &write)
        let changeSet = commit(write)
        response.revision = revision
        return (response, changeSet)
    }

    /// Whether a compare holds now. A missing key has create and mod revision 0, version 0 and no
    /// lease; a value compare on a missing key never holds, as in etcd.
    func holds(_ compare: Compare) -> Bool {
        let kv = live[compare.key]
        let order: Int
        switch compare.target {
        case .version(let version): order = Self.order(kv?.version ?? 0, version)
        case .createRevision(let revision): order = Self.order(kv?.createRevision ?? 0, revision)
        case .modRevision(let revision): order = Self.order(kv?.modRevision ?? 0, revision)
        case .lease(let lease): order = Self.order(kv?.lease?.rawValue ?? 0, lease?.rawValue ?? 0)
        case .value(let value):
            guard let kv else { return false }
            order = kv.value == value ? 0 : (kv.value.lexicographicallyPrecedes(value) ? -1 : 1)
        }
        switch compare.op {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .less: return order < 0
        case .greater: return order > 0
        }
    }

    private static func order(_ lhs: Int64, _ rhs: Int64) -> Int {
        lhs < rhs ? -1 : (lhs == rhs ? 0 : 1)
    }

    /// The keys a branch puts and the ranges it deletes, nested transactions included.
    /// - Throws: `duplicateKey` when the branch writes a key twice.
    private static func writtenKeys(_ ops: [TxnOp]) throws -> (puts: Set<Key>, deletes: [KeyRange]) {
        var deletes: [KeyRange] = []
        for case .deleteRange(let delete) in ops { deletes.append(delete.range) }
        var puts: Set<Key> = []
        func claim(_ key: Key, allowedTwice: Bool = false) throws {
            if (puts.contains(key) && !allowedTwice) || deletes.contains(where: { $0.contains(key) }) {
                throw BatonError(.duplicateKey, "transaction writes key \(key) more than once")
            }
            puts.insert(key)
        }
        for case .txn(let nested) in ops {
            let then = try writtenKeys(nested.success)
            let otherwise = try writtenKeys(nested.failure)
            for key in then.puts.sorted() { try claim(key) }
            // Only one branch of the nested transaction runs, so it may put a key the other puts.
            for key in otherwise.puts.sorted() { try claim(key, allowedTwice: then.puts.contains(key)) }
            deletes += then.deletes + otherwise.deletes
        }
        for case .put(let put) in ops { try claim(put.key) }
        return (puts, deletes)
    }

    /// Chooses the branch of `request` and of every nested transaction on the way (appending one
    /// decision per transaction, depth first), and checks the chosen operations.
    private func plan(_ request: TxnRequest, path: inout [Bool], leaseExists: (LeaseID) -> Bool) throws {
        let succeeded = request.compare.allSatisfy(holds)
        path.append(succeeded)
        for op in succeeded ? request.success : request.failure {
            switch op {
            case .put(let put):
                if let lease = Self.attachedLease(put.lease), !leaseExists(lease) {
                    throw BatonError(.leaseNotFound, "lease \(lease) does not exist (put of \(put.key))")
                }
            case .range(let range):
                try checkReadRevision(range.revision, current: revision)
            case .deleteRange:
                break
            case .txn(let nested):
                try plan(nested, path: &path, leaseExists: leaseExists)
            }
        }
    }

    /// Runs the planned branch of `request`, consuming its decisions from `path`.
    private mutating func execute(
        _ request: TxnRequest, path: [Bool], step: inout Int, write: inout PendingWrite
    ) -> TxnResponse {
        let succeeded = path[step]
        step += 1
        var responses: [TxnOpResponse] = []
        for op in succeeded ? request.success : request.failure {
            switch op {
            case .put(let put):
                responses.append(.put(apply(put, in: &write)))
            case .deleteRange(let delete):
                responses.append(.deleteRange(apply(delete, in: &write)))
            case .range(let range):
                responses.append(.range(read(range, during: write).response))
            case .txn(let nested):
                responses.append(.txn(execute(nested, path: path, step: &step, write: &write)))
            }
        }
        return TxnResponse(revision: write.visibleRevision, succeeded: succeeded, responses: responses)
    }
}

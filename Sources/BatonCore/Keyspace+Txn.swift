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
    /// The branches a transaction takes, chosen against the keyspace as it was before the transaction.
    struct TxnPlan: Equatable {
        /// Whether the request's own compares held (so `success` runs).
        var succeeded: Bool
        /// The choice of every nested transaction on the path taken, depth first; empty (so nothing
        /// is allocated) for a transaction without nested ones.
        var nested: [Bool] = []
    }

    /// Steps 1 and 2: checks a transaction and chooses its path without changing anything; a put may
    /// attach a lease that `leases` contains. (The table itself rather than a closure over it: a
    /// mutating caller's closure made the compiler copy the keyspace or the whole store.)
    /// - Throws: `duplicateKey`, `leaseNotFound`, `futureRevision`, `compacted`.
    func plan(_ request: TxnRequest, leases: LeaseTable) throws -> TxnPlan {
        if Self.mayWriteKeyTwice(request.success) { _ = try Self.writtenKeys(request.success) }
        if Self.mayWriteKeyTwice(request.failure) { _ = try Self.writtenKeys(request.failure) }
        var plan = TxnPlan(succeeded: request.compare.allSatisfy { holds($0) })
        try check(plan.succeeded ? request.success : request.failure, nested: &plan.nested, leases: leases)
        return plan
    }

    /// Step 3: runs the path `plan` chose (as ``plan(_:leases:)`` returned it for this keyspace).
    mutating func run(_ request: TxnRequest, _ plan: TxnPlan) -> (TxnResponse, ChangeSet?) {
        var write = PendingWrite(revision: revision + 1)
        var step = 0
        let responses = execute(
            plan.succeeded ? request.success : request.failure, nested: plan.nested, step: &step, write: &write)
        let changeSet = commit(write)
        return (TxnResponse(revision: revision, succeeded: plan.succeeded, responses: responses), changeSet)
    }

    /// Whether a compare holds now. A missing key has create and mod revision 0, version 0 and no
    /// lease; a value compare on a missing key never holds, as in etcd. A range compare holds when
    /// every key in the range satisfies it, and, for a range without keys, as for one missing key.
    func holds(_ compare: Compare) -> Bool {
        guard case .key(let key) = compare.range else {
            let upper = compare.range.upperBound
            // Mostly the range is empty (the recipes compare a session's own keys under a name): one
            // walk down the tree finds that, without an iterator.
            guard let first = live.first(atLeast: compare.range.lowerBound), upper.map({ first.key < $0 }) ?? true
            else { return Self.holds(compare, on: nil) }
            for (key, kv) in live.ascending(from: compare.range.lowerBound) {
                if let upper, key >= upper { break }
                if !Self.holds(compare, on: kv) { return false }
            }
            return true  // the range has a key (`first`), and every key satisfied the compare
        }
        return Self.holds(compare, on: live[key])
    }

    /// Whether `kv` (nil: a missing key) satisfies `compare`.
    private static func holds(_ compare: Compare, on kv: KeyValue?) -> Bool {
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

    /// Whether a branch could break the duplicate-key rule: only one that has a nested transaction,
    /// two puts, or a put and a delete can. Most branches cannot, and skip building key sets.
    static func mayWriteKeyTwice(_ ops: [TxnOp]) -> Bool {
        var puts = 0
        var deletes = false
        for op in ops {
            switch op {
            case .put: puts += 1
            case .deleteRange: deletes = true
            case .txn: return true
            case .range: continue
            }
        }
        return puts > 1 || (puts == 1 && deletes)
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

    /// Checks the operations of a branch on the path taken, appending the choice of each nested
    /// transaction (depth first) to `nested`.
    private func check(_ ops: [TxnOp], nested: inout [Bool], leases: LeaseTable) throws {
        for op in ops {
            switch op {
            case .put(let put):
                if let lease = Self.attachedLease(put.lease), !leases.contains(lease) {
                    throw BatonError(.leaseNotFound, "lease \(lease) does not exist (put of \(put.key))")
                }
            case .range(let range):
                try checkReadRevision(range.revision, current: revision)
            case .deleteRange:
                break
            case .txn(let inner):
                let succeeded = inner.compare.allSatisfy { holds($0) }
                nested.append(succeeded)
                try check(succeeded ? inner.success : inner.failure, nested: &nested, leases: leases)
            }
        }
    }

    /// Runs the operations of a branch on the planned path, consuming nested choices from `nested`.
    private mutating func execute(
        _ ops: [TxnOp], nested: [Bool], step: inout Int, write: inout PendingWrite
    ) -> [TxnOpResponse] {
        var responses: [TxnOpResponse] = []
        responses.reserveCapacity(ops.count)
        for op in ops {
            switch op {
            case .put(let put):
                responses.append(.put(apply(put, in: &write)))
            case .deleteRange(let delete):
                responses.append(.deleteRange(apply(delete, in: &write)))
            case .range(let range):
                responses.append(.range(read(range, during: write).response))
            case .txn(let inner):
                let succeeded = nested[step]
                step += 1
                let innerResponses = execute(
                    succeeded ? inner.success : inner.failure, nested: nested, step: &step, write: &write)
                let response = TxnResponse(
                    revision: write.visibleRevision, succeeded: succeeded, responses: innerResponses)
                responses.append(.txn(response))
            }
        }
        return responses
    }
}

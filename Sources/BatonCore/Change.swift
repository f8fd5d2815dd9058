/// One key's change in a write: what it was before and what it is after.
///
/// A key changes at most once per revision: etcd rejects transactions that write a key twice, and a
/// second delete of the same key in one transaction finds nothing to delete.
struct Change: Hashable, Sendable {
    /// The key that changed.
    var key: Key
    /// The key before the write; `nil` when it did not exist.
    var previous: KeyValue?
    /// The key after the write; `nil` when the write deleted it.
    var current: KeyValue?

    /// The watch event for this change at `revision`: a put carries the new key-value; a delete carries
    /// the key with the delete's revision as its mod revision, as etcd's tombstones do.
    func event(at revision: Int64, prevKV: Bool) -> WatchEvent {
        let previous = prevKV ? self.previous : nil
        if let current {
            return WatchEvent(kind: .put, kv: current, prevKV: previous)
        }
        return WatchEvent(kind: .delete, kv: KeyValue(key: key, modRevision: revision), prevKV: previous)
    }
}

/// Every change made by one write transaction, in the order the transaction made them.
struct ChangeSet: Hashable, Sendable {
    /// The revision the transaction created.
    var revision: Int64
    /// The changes, in operation order (a delete of a range: in key order).
    var changes: [Change]
}

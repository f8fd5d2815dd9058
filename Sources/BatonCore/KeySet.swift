/// A set of keys that holds its only key inline: no allocation and no hashing while it has one.
///
/// Most sets of keys in the store hold one key: a session's lease carries the one lock it holds, a
/// session's gates hold the one name it is taking. A `Set<Key>` of one key is a heap object of 88
/// bytes, and every insert and remove hashes the key; this compares it instead. From the second key
/// on, the keys are in a `Set` as usual.
package struct KeySet: Equatable, Sendable {
    /// The only key, while there is at most one; then `more` is empty.
    private var only: Key?
    /// Every key, once there were two at a time (until the set is empty again).
    private var more: Set<Key> = []

    package init() {}

    package var isEmpty: Bool { only == nil && more.isEmpty }
    package var count: Int { only == nil ? more.count : 1 }

    package func contains(_ key: Key) -> Bool {
        only.map { $0 == key } ?? more.contains(key)
    }

    /// Inserts `key`. - Returns: whether it was not there yet.
    @discardableResult
    package mutating func insert(_ key: Key) -> Bool {
        if let only {
            guard only != key else { return false }
            more = [only, key]
            self.only = nil
            return true
        }
        if more.isEmpty {
            only = key
            return true
        }
        return more.insert(key).inserted
    }

    /// Removes `key`. - Returns: whether it was there.
    @discardableResult
    package mutating func remove(_ key: Key) -> Bool {
        if only == key {
            only = nil
            return true
        }
        return more.remove(key) != nil
    }

    /// The keys in key order.
    package func sorted() -> [Key] {
        only.map { [$0] } ?? more.sorted()
    }

    /// Equal when the keys are, however each set holds them.
    package static func == (lhs: KeySet, rhs: KeySet) -> Bool {
        lhs.count == rhs.count && lhs.sorted() == rhs.sorted()
    }
}

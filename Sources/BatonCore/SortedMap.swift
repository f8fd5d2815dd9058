/// An ordered map with value semantics: an AVL tree stored in three parallel `ContiguousArray`s
/// (keys, values, and the tree links of each slot).
///
/// Slots refer to their children by `Int32` index, so copying the map copies three array references
/// and the first mutation of a shared copy copies the arrays (the standard library's copy-on-write). A
/// removal moves the last slot into the freed one, so the arrays never have holes. Every slot records
/// its subtree's height (for balancing) and size (for counting keys below a bound in O(log n)). The
/// links live apart from keys and values so that rebalancing touches only plain integers.
///
/// Lookup, insert, remove, seeks and counts are O(log n); iteration from a bound costs O(log n) to
/// start and amortised O(1) per element.
struct SortedMap<Key: Comparable, Value> {
    /// A key and its value.
    typealias Element = (key: Key, value: Value)

    // Readable in the module so that tests can check the tree's invariants.
    private(set) var keys: ContiguousArray<Key> = []
    private(set) var values: ContiguousArray<Value> = []
    private(set) var links: ContiguousArray<SortedMapLinks> = []
    private(set) var root: Int32 = -1

    /// Creates an empty map.
    init() {}

    /// The number of keys.
    var count: Int { keys.count }
    /// Whether the map has no keys.
    var isEmpty: Bool { keys.isEmpty }

    /// The value stored under `key`; assigning `nil` removes the key.
    subscript(key: Key) -> Value? {
        get {
            let index = find(key)
            return index < 0 ? nil : values[Int(index)]
        }
        set {
            if let newValue {
                updateValue(newValue, forKey: key)
            } else {
                removeValue(forKey: key)
            }
        }
    }

    /// Whether `key` is in the map.
    func contains(_ key: Key) -> Bool { find(key) >= 0 }

    /// Stores `value` under `key` and returns the value it replaced, if any.
    @discardableResult
    mutating func updateValue(_ value: Value, forKey key: Key) -> Value? {
        updateValue(forKey: key) { _ in value }
    }

    /// Stores `makeValue(old)` under `key`, where `old` is the value it replaces, and returns `old`;
    /// one descent instead of a lookup followed by an insert.
    @discardableResult
    mutating func updateValue(forKey key: Key, _ makeValue: (Value?) -> Value) -> Value? {
        let (newRoot, old) = insert(key, makeValue, into: root)
        root = newRoot
        return old
    }

    /// Changes the value under `key` in place (no copy of the value) and returns `body`'s result, or
    /// returns `nil` without calling `body` when the key is absent.
    mutating func modifyValue<R>(forKey key: Key, _ body: (inout Value) throws -> R) rethrows -> R? {
        let index = find(key)
        if index < 0 { return nil }
        return try body(&values[Int(index)])
    }

    /// Changes in place the value of the key that `order` finds and returns `body`'s result, or
    /// returns `nil` without calling `body` when there is none. `order(k)` tells where the sought key
    /// lies relative to `k` (negative: before, zero: it is `k`, positive: after), so the caller can
    /// find a key without building one.
    mutating func modifyValue<R>(
        orderedBy order: (Key) -> Int, _ body: (inout Value) throws -> R
    ) rethrows -> R? {
        var index = root
        while index >= 0 {
            let side = order(keys[Int(index)])
            if side == 0 { return try body(&values[Int(index)]) }
            index = side < 0 ? links[Int(index)].left : links[Int(index)].right
        }
        return nil
    }

    /// Removes `key` and returns its value, if it was present.
    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        guard find(key) >= 0 else { return nil }
        var freed: Int32 = -1
        root = remove(key, from: root, freed: &freed)
        let value = values[Int(freed)]
        fillHole(freed)
        return value
    }

    /// The element with the smallest key: a walk down the left links, no iterator.
    var first: Element? { extreme(\.left) }
    /// The element with the largest key: a walk down the right links, no iterator.
    var last: Element? { extreme(\.right) }

    private func extreme(_ side: KeyPath<SortedMapLinks, Int32>) -> Element? {
        var index = root
        guard index >= 0 else { return nil }
        while case let next = links[Int(index)][keyPath: side], next >= 0 { index = next }
        return (keys[Int(index)], values[Int(index)])
    }

    /// The element with the smallest key `>= key` (a lower bound): one walk down, no iterator.
    func first(atLeast key: Key) -> Element? {
        var index = root, found: Int32 = -1
        while index >= 0 {
            if keys[Int(index)] < key {
                index = links[Int(index)].right
            } else {
                found = index
                index = links[Int(index)].left
            }
        }
        return found >= 0 ? (keys[Int(found)], values[Int(found)]) : nil
    }
    /// The element with the smallest key `> key` (an upper bound).
    func first(greaterThan key: Key) -> Element? { Self.firstElement(ascending(startingAt: { key < $0 })) }
    /// The element with the largest key `< key` (the predecessor).
    func last(lessThan key: Key) -> Element? { Self.firstElement(descending(below: key)) }
    /// The element with the largest key `<= key`.
    func last(atMost key: Key) -> Element? { Self.firstElement(descending(startingAt: { $0 <= key })) }

    private static func firstElement(_ iterator: some IteratorProtocol<Element>) -> Element? {
        var iterator = iterator
        return iterator.next()
    }

    /// How many keys are `< key`.
    func count(below key: Key) -> Int { count(where: { $0 < key }) }

    /// How many keys satisfy `isBelow`, which must be true for a (possibly empty) run of the smallest
    /// keys and false for the rest.
    func count(where isBelow: (Key) -> Bool) -> Int {
        var total = 0
        var index = root
        while index >= 0 {
            let link = links[Int(index)]
            if isBelow(keys[Int(index)]) {
                total += size(link.left) + 1
                index = link.right
            } else {
                index = link.left
            }
        }
        return total
    }

    /// Elements in ascending key order, from the first key `>= key` (from the smallest when `nil`).
    func ascending(from key: Key? = nil) -> InOrderIterator {
        guard let key else { return ascending(startingAt: { _ in true }) }
        return ascending(startingAt: { key <= $0 })
    }

    /// Elements in ascending key order from the first key satisfying `isStart`, which must be false
    /// for a run of the smallest keys and true for the rest.
    func ascending(startingAt isStart: (Key) -> Bool) -> InOrderIterator {
        walk(descending: false, startingAt: isStart)
    }

    /// Elements in descending key order, from the last key `< key` (from the largest when `nil`).
    func descending(below key: Key? = nil) -> InOrderIterator {
        guard let key else { return descending(startingAt: { _ in true }) }
        return descending(startingAt: { $0 < key })
    }

    /// Elements in descending key order from the last key satisfying `isStart`, which must be true
    /// for a run of the smallest keys and false for the rest.
    func descending(startingAt isStart: (Key) -> Bool) -> InOrderIterator {
        walk(descending: true, startingAt: isStart)
    }

    /// An iterator positioned at the first key satisfying `isStart` in the walk's direction: the path
    /// holds every node still to visit whose far subtree is not yet entered.
    private func walk(descending: Bool, startingAt isStart: (Key) -> Bool) -> InOrderIterator {
        var path: [Int32] = []
        path.reserveCapacity(Int(height(root)))  // the longest path: one allocation
        var index = root
        while index >= 0 {
            let link = links[Int(index)]
            if isStart(keys[Int(index)]) {
                path.append(index)
                index = descending ? link.right : link.left
            } else {
                index = descending ? link.left : link.right
            }
        }
        return InOrderIterator(keys: keys, values: values, links: links, descending: descending, path: path)
    }

    /// Walks the tree in ascending or descending order; holds references to the arrays, so mutating
    /// the map while an iterator is alive copies it.
    struct InOrderIterator: IteratorProtocol, Sequence {
        fileprivate let keys: ContiguousArray<Key>
        fileprivate let values: ContiguousArray<Value>
        fileprivate let links: ContiguousArray<SortedMapLinks>
        fileprivate let descending: Bool
        fileprivate var path: [Int32]

        mutating func next() -> Element? {
            guard let index = path.popLast() else { return nil }
            // The next node is the nearest one in the subtree beyond this one.
            let beyond = links[Int(index)]
            var child = descending ? beyond.left : beyond.right
            while child >= 0 {
                path.append(child)
                child = descending ? links[Int(child)].right : links[Int(child)].left
            }
            return (keys[Int(index)], values[Int(index)])
        }
    }

    // MARK: - Tree internals

    private func find(_ key: Key) -> Int32 {
        var index = root
        while index >= 0 {
            let slotKey = keys[Int(index)]
            if key < slotKey {
                index = links[Int(index)].left
            } else if slotKey < key {
                index = links[Int(index)].right
            } else {
                return index
            }
        }
        return -1
    }

    private func height(_ index: Int32) -> Int32 { index < 0 ? 0 : links[Int(index)].height }
    private func size(_ index: Int32) -> Int { index < 0 ? 0 : Int(links[Int(index)].size) }

    /// Inserts or replaces below `index`; returns the subtree's new root and the replaced value.
    private mutating func insert(
        _ key: Key, _ makeValue: (Value?) -> Value, into index: Int32
    ) -> (Int32, Value?) {
        if index < 0 {
            precondition(keys.count < Int(Int32.max), "SortedMap: more keys than Int32 indices address")
            keys.append(key)
            values.append(makeValue(nil))
            links.append(SortedMapLinks())
            return (Int32(keys.count - 1), nil)
        }
        let i = Int(index)
        let slotKey = keys[i]
        if key < slotKey {
            let (child, old) = insert(key, makeValue, into: links[i].left)
            links[i].left = child
            if old != nil { return (index, old) }
        } else if slotKey < key {
            let (child, old) = insert(key, makeValue, into: links[i].right)
            links[i].right = child
            if old != nil { return (index, old) }
        } else {
            let old = values[i]
            values[i] = makeValue(old)
            return (index, old)
        }
        return (rebalance(index), nil)
    }

    /// Unlinks `key`'s slot from the subtree at `index` (the key must be present); returns the
    /// subtree's new root and reports the unlinked slot in `freed`.
    private mutating func remove(_ key: Key, from index: Int32, freed: inout Int32) -> Int32 {
        let i = Int(index)
        let slotKey = keys[i]
        if key < slotKey {
            links[i].left = remove(key, from: links[i].left, freed: &freed)
        } else if slotKey < key {
            links[i].right = remove(key, from: links[i].right, freed: &freed)
        } else {
            freed = index
            let (left, right) = (links[i].left, links[i].right)
            if left < 0 { return right }
            if right < 0 { return left }
            // Relink the successor in this slot's place rather than moving its key and value.
            var successor: Int32 = -1
            let newRight = removeMinimum(from: right, removed: &successor)
            links[Int(successor)].left = left
            links[Int(successor)].right = newRight
            return rebalance(successor)
        }
        return rebalance(index)
    }

    private mutating func removeMinimum(from index: Int32, removed: inout Int32) -> Int32 {
        let i = Int(index)
        if links[i].left < 0 {
            removed = index
            return links[i].right
        }
        links[i].left = removeMinimum(from: links[i].left, removed: &removed)
        return rebalance(index)
    }

    /// Moves the last slot into the unlinked slot `hole` and drops the last slot.
    private mutating func fillHole(_ hole: Int32) {
        let last = Int32(keys.count - 1)
        if hole != last {
            let key = keys[Int(last)]
            var parent: Int32 = -1
            var index = root
            while index != last {
                parent = index
                index = key < keys[Int(index)] ? links[Int(index)].left : links[Int(index)].right
            }
            if parent < 0 {
                root = hole
            } else if links[Int(parent)].left == last {
                links[Int(parent)].left = hole
            } else {
                links[Int(parent)].right = hole
            }
            keys.swapAt(Int(hole), Int(last))
            values.swapAt(Int(hole), Int(last))
            links.swapAt(Int(hole), Int(last))
        }
        keys.removeLast()
        values.removeLast()
        links.removeLast()
    }

    /// Recomputes a slot's height and size from its children (few array accesses: each one costs a
    /// retain and a release in unoptimised builds).
    private mutating func update(_ index: Int32) {
        var link = links[Int(index)]
        var childHeight: Int32 = 0
        var size: Int32 = 1
        if link.left >= 0 {
            let left = links[Int(link.left)]
            childHeight = left.height
            size += left.size
        }
        if link.right >= 0 {
            let right = links[Int(link.right)]
            childHeight = Swift.max(childHeight, right.height)
            size += right.size
        }
        link.height = childHeight + 1
        link.size = size
        links[Int(index)] = link
    }

    /// Restores the AVL balance at `index` after one of its subtrees changed height by one.
    private mutating func rebalance(_ index: Int32) -> Int32 {
        update(index)
        let link = links[Int(index)]
        let balance = height(link.left) - height(link.right)
        if balance > 1 {
            let left = links[Int(link.left)]
            if height(left.left) < height(left.right) {
                links[Int(index)].left = rotateLeft(link.left)
            }
            return rotateRight(index)
        }
        if balance < -1 {
            let right = links[Int(link.right)]
            if height(right.right) < height(right.left) {
                links[Int(index)].right = rotateRight(link.right)
            }
            return rotateLeft(index)
        }
        return index
    }

    private mutating func rotateRight(_ index: Int32) -> Int32 {
        let pivot = links[Int(index)].left
        links[Int(index)].left = links[Int(pivot)].right
        links[Int(pivot)].right = index
        update(index)
        update(pivot)
        return pivot
    }

    private mutating func rotateLeft(_ index: Int32) -> Int32 {
        let pivot = links[Int(index)].right
        links[Int(index)].right = links[Int(pivot)].left
        links[Int(pivot)].left = index
        update(index)
        update(pivot)
        return pivot
    }
}

extension SortedMap: Sequence {
    /// Iterates in ascending key order.
    func makeIterator() -> InOrderIterator { ascending() }
}

extension SortedMap: Equatable where Value: Equatable {
    /// Maps are equal when they hold the same keys with equal values (tree shape is irrelevant).
    static func == (lhs: SortedMap, rhs: SortedMap) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.elementsEqual(rhs) { $0.key == $1.key && $0.value == $1.value }
    }
}

extension SortedMap: Sendable where Key: Sendable, Value: Sendable {}
extension SortedMap.InOrderIterator: Sendable where Key: Sendable, Value: Sendable {}

/// A ``SortedMap`` slot's place in the tree. Not nested in the generic type, so that code working on
/// links needs no generic metadata (which matters in unoptimised builds).
struct SortedMapLinks: Sendable {
    var left: Int32 = -1
    var right: Int32 = -1
    var height: Int32 = 1
    var size: Int32 = 1
}

/// The value type of a ``SortedMap`` used as an ordered set.
struct Present: Hashable, Sendable {}

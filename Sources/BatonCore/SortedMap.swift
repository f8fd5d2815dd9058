/// An ordered map with value semantics: an AVL tree whose nodes live in one `ContiguousArray`.
///
/// Nodes refer to their children by `Int32` index, so copying the map copies one array reference and
/// the first mutation of a shared copy copies the array (the standard library's copy-on-write). A
/// removal moves the last node into the freed slot, so the array never has holes. Every node records
/// its subtree's height (for balancing) and size (for counting keys below a bound in O(log n)).
///
/// Lookup, insert, remove, seeks and counts are O(log n); iteration from a bound costs O(log n) to
/// start and amortised O(1) per element.
struct SortedMap<Key: Comparable, Value> {
    /// A key and its value.
    typealias Element = (key: Key, value: Value)

    struct Node {
        var key: Key
        var value: Value
        var left: Int32 = -1
        var right: Int32 = -1
        var height: Int32 = 1
        var size: Int32 = 1
    }

    private var nodes: ContiguousArray<Node> = []
    private var root: Int32 = -1

    /// Creates an empty map.
    init() {}

    /// The number of keys.
    var count: Int { nodes.count }
    /// Whether the map has no keys.
    var isEmpty: Bool { nodes.isEmpty }

    /// The value stored under `key`; assigning `nil` removes the key.
    subscript(key: Key) -> Value? {
        get {
            let index = find(key)
            return index < 0 ? nil : nodes[Int(index)].value
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
        let (newRoot, old) = insert(key, value, into: root)
        root = newRoot
        return old
    }

    /// Changes the value under `key` in place (no copy of the value) and returns `body`'s result, or
    /// returns `nil` without calling `body` when the key is absent.
    mutating func modifyValue<R>(forKey key: Key, _ body: (inout Value) throws -> R) rethrows -> R? {
        let index = find(key)
        if index < 0 { return nil }
        return try body(&nodes[Int(index)].value)
    }

    /// Removes `key` and returns its value, if it was present.
    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        guard find(key) >= 0 else { return nil }
        var freed: Int32 = -1
        root = remove(key, from: root, freed: &freed)
        let value = nodes[Int(freed)].value
        fillHole(freed)
        return value
    }

    /// The element with the smallest key.
    var first: Element? { Self.firstElement(ascending()) }
    /// The element with the largest key.
    var last: Element? { Self.firstElement(descending()) }

    /// The element with the smallest key `>= key` (a lower bound).
    func first(atLeast key: Key) -> Element? { Self.firstElement(ascending(from: key)) }
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
            let node = nodes[Int(index)]
            if isBelow(node.key) {
                total += size(node.left) + 1
                index = node.right
            } else {
                index = node.left
            }
        }
        return total
    }

    /// Elements in ascending key order, from the first key `>= key` (from the smallest when `nil`).
    func ascending(from key: Key? = nil) -> AscendingIterator {
        guard let key else { return ascending(startingAt: { _ in true }) }
        return ascending(startingAt: { key <= $0 })
    }

    /// Elements in ascending key order from the first key satisfying `isStart`, which must be false
    /// for a run of the smallest keys and true for the rest.
    func ascending(startingAt isStart: (Key) -> Bool) -> AscendingIterator {
        var path: [Int32] = []
        var index = root
        while index >= 0 {
            let node = nodes[Int(index)]
            if isStart(node.key) {
                path.append(index)
                index = node.left
            } else {
                index = node.right
            }
        }
        return AscendingIterator(nodes: nodes, path: path)
    }

    /// Elements in descending key order, from the last key `< key` (from the largest when `nil`).
    func descending(below key: Key? = nil) -> DescendingIterator {
        guard let key else { return descending(startingAt: { _ in true }) }
        return descending(startingAt: { $0 < key })
    }

    /// Elements in descending key order from the last key satisfying `isStart`, which must be true
    /// for a run of the smallest keys and false for the rest.
    func descending(startingAt isStart: (Key) -> Bool) -> DescendingIterator {
        var path: [Int32] = []
        var index = root
        while index >= 0 {
            let node = nodes[Int(index)]
            if isStart(node.key) {
                path.append(index)
                index = node.right
            } else {
                index = node.left
            }
        }
        return DescendingIterator(nodes: nodes, path: path)
    }

    /// Walks the tree in ascending order; holds a reference to the nodes, so mutating the map while
    /// an iterator is alive copies it.
    struct AscendingIterator: IteratorProtocol, Sequence {
        fileprivate let nodes: ContiguousArray<Node>
        fileprivate var path: [Int32]

        mutating func next() -> Element? {
            guard let index = path.popLast() else { return nil }
            let node = nodes[Int(index)]
            var child = node.right
            while child >= 0 {
                path.append(child)
                child = nodes[Int(child)].left
            }
            return (node.key, node.value)
        }
    }

    /// Walks the tree in descending order; see ``AscendingIterator``.
    struct DescendingIterator: IteratorProtocol, Sequence {
        fileprivate let nodes: ContiguousArray<Node>
        fileprivate var path: [Int32]

        mutating func next() -> Element? {
            guard let index = path.popLast() else { return nil }
            let node = nodes[Int(index)]
            var child = node.left
            while child >= 0 {
                path.append(child)
                child = nodes[Int(child)].right
            }
            return (node.key, node.value)
        }
    }

    // MARK: - Tree internals

    private func find(_ key: Key) -> Int32 {
        var index = root
        while index >= 0 {
            let nodeKey = nodes[Int(index)].key
            if key < nodeKey {
                index = nodes[Int(index)].left
            } else if nodeKey < key {
                index = nodes[Int(index)].right
            } else {
                return index
            }
        }
        return -1
    }

    private func height(_ index: Int32) -> Int32 { index < 0 ? 0 : nodes[Int(index)].height }
    private func size(_ index: Int32) -> Int { index < 0 ? 0 : Int(nodes[Int(index)].size) }

    /// Inserts or replaces below `index`; returns the subtree's new root and the replaced value.
    private mutating func insert(_ key: Key, _ value: Value, into index: Int32) -> (Int32, Value?) {
        if index < 0 {
            precondition(nodes.count < Int(Int32.max), "SortedMap: more keys than Int32 indices address")
            nodes.append(Node(key: key, value: value))
            return (Int32(nodes.count - 1), nil)
        }
        let i = Int(index)
        if key < nodes[i].key {
            let (child, old) = insert(key, value, into: nodes[i].left)
            nodes[i].left = child
            if old != nil { return (index, old) }
        } else if nodes[i].key < key {
            let (child, old) = insert(key, value, into: nodes[i].right)
            nodes[i].right = child
            if old != nil { return (index, old) }
        } else {
            let old = nodes[i].value
            nodes[i].value = value
            return (index, old)
        }
        return (rebalance(index), nil)
    }

    /// Unlinks `key`'s node from the subtree at `index` (the key must be present); returns the
    /// subtree's new root and reports the unlinked node's slot in `freed`.
    private mutating func remove(_ key: Key, from index: Int32, freed: inout Int32) -> Int32 {
        let i = Int(index)
        if key < nodes[i].key {
            nodes[i].left = remove(key, from: nodes[i].left, freed: &freed)
        } else if nodes[i].key < key {
            nodes[i].right = remove(key, from: nodes[i].right, freed: &freed)
        } else {
            freed = index
            let (left, right) = (nodes[i].left, nodes[i].right)
            if left < 0 { return right }
            if right < 0 { return left }
            // Relink the successor in this node's place rather than copying its key and value.
            var successor: Int32 = -1
            let newRight = removeMinimum(from: right, removed: &successor)
            nodes[Int(successor)].left = left
            nodes[Int(successor)].right = newRight
            return rebalance(successor)
        }
        return rebalance(index)
    }

    private mutating func removeMinimum(from index: Int32, removed: inout Int32) -> Int32 {
        let i = Int(index)
        if nodes[i].left < 0 {
            removed = index
            return nodes[i].right
        }
        nodes[i].left = removeMinimum(from: nodes[i].left, removed: &removed)
        return rebalance(index)
    }

    /// Moves the last node into the unlinked slot `hole` and drops the last slot.
    private mutating func fillHole(_ hole: Int32) {
        let last = Int32(nodes.count - 1)
        if hole != last {
            let key = nodes[Int(last)].key
            var parent: Int32 = -1
            var index = root
            while index != last {
                parent = index
                index = key < nodes[Int(index)].key ? nodes[Int(index)].left : nodes[Int(index)].right
            }
            if parent < 0 {
                root = hole
            } else if nodes[Int(parent)].left == last {
                nodes[Int(parent)].left = hole
            } else {
                nodes[Int(parent)].right = hole
            }
            nodes.swapAt(Int(hole), Int(last))
        }
        nodes.removeLast()
    }

    private mutating func update(_ index: Int32) {
        let i = Int(index)
        let (left, right) = (nodes[i].left, nodes[i].right)
        nodes[i].height = Swift.max(height(left), height(right)) + 1
        nodes[i].size = Int32(size(left) + size(right) + 1)
    }

    /// Restores the AVL balance at `index` after one of its subtrees changed height by one.
    private mutating func rebalance(_ index: Int32) -> Int32 {
        update(index)
        let i = Int(index)
        let balance = height(nodes[i].left) - height(nodes[i].right)
        if balance > 1 {
            let left = nodes[i].left
            if height(nodes[Int(left)].left) < height(nodes[Int(left)].right) {
                nodes[i].left = rotateLeft(left)
            }
            return rotateRight(index)
        }
        if balance < -1 {
            let right = nodes[i].right
            if height(nodes[Int(right)].right) < height(nodes[Int(right)].left) {
                nodes[i].right = rotateRight(right)
            }
            return rotateLeft(index)
        }
        return index
    }

    private mutating func rotateRight(_ index: Int32) -> Int32 {
        let pivot = nodes[Int(index)].left
        nodes[Int(index)].left = nodes[Int(pivot)].right
        nodes[Int(pivot)].right = index
        update(index)
        update(pivot)
        return pivot
    }

    private mutating func rotateLeft(_ index: Int32) -> Int32 {
        let pivot = nodes[Int(index)].right
        nodes[Int(index)].right = nodes[Int(pivot)].left
        nodes[Int(pivot)].left = index
        update(index)
        update(pivot)
        return pivot
    }

    /// Checks order, heights, sizes, balance and that every slot is reachable; for tests.
    func invariantViolation() -> String? {
        var reached = 0
        func check(_ index: Int32, above lower: Key?, below upper: Key?) -> (height: Int32, size: Int)? {
            if index < 0 { return (0, 0) }
            reached += 1
            let node = nodes[Int(index)]
            if let lower, !(lower < node.key) { return nil }
            if let upper, !(node.key < upper) { return nil }
            guard let left = check(node.left, above: lower, below: node.key),
                let right = check(node.right, above: node.key, below: upper)
            else { return nil }
            let height = Swift.max(left.height, right.height) + 1
            let size = left.size + right.size + 1
            guard abs(left.height - right.height) <= 1, node.height == height, Int(node.size) == size
            else { return nil }
            return (height, size)
        }
        guard let whole = check(root, above: nil, below: nil) else { return "order, height or size broken" }
        if whole.size != nodes.count || reached != nodes.count { return "unreachable slots" }
        return nil
    }
}

extension SortedMap: Sequence {
    /// Iterates in ascending key order.
    func makeIterator() -> AscendingIterator { ascending() }
}

extension SortedMap: Equatable where Value: Equatable {
    /// Maps are equal when they hold the same keys with equal values (tree shape is irrelevant).
    static func == (lhs: SortedMap, rhs: SortedMap) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.elementsEqual(rhs) { $0.key == $1.key && $0.value == $1.value }
    }
}

extension SortedMap: Sendable where Key: Sendable, Value: Sendable {}
extension SortedMap.Node: Sendable where Key: Sendable, Value: Sendable {}
extension SortedMap.AscendingIterator: Sendable where Key: Sendable, Value: Sendable {}
extension SortedMap.DescendingIterator: Sendable where Key: Sendable, Value: Sendable {}

/// The value type of a ``SortedMap`` used as an ordered set.
struct Present: Hashable, Sendable {}

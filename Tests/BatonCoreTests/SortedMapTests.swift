import Testing

@testable import BatonCore

@Suite struct SortedMapTests {
    /// The brute-force model: a sorted array of pairs.
    struct Model {
        var pairs: [(key: Int, value: Int)] = []

        func index(of key: Int) -> Int? { pairs.firstIndex { $0.key == key } }

        mutating func update(_ value: Int, forKey key: Int) -> Int? {
            if let i = index(of: key) {
                defer { pairs[i].value = value }
                return pairs[i].value
            }
            pairs.append((key, value))
            pairs.sort { $0.key < $1.key }
            return nil
        }

        mutating func remove(_ key: Int) -> Int? {
            guard let i = index(of: key) else { return nil }
            return pairs.remove(at: i).value
        }
    }

    static func same(_ lhs: (key: Int, value: Int)?, _ rhs: (key: Int, value: Int)?) -> Bool {
        lhs?.key == rhs?.key && lhs?.value == rhs?.value
    }

    @Test(arguments: [1, 2, 3, 42] as [UInt64])
    func matchesBruteForceModel(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var map = SortedMap<Int, Int>()
        var model = Model()
        let keySpace = 0..<400
        for step in 0..<5_000 {
            let key = Int.random(in: keySpace, using: &random)
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<4:
                let value = Int.random(in: 0..<1_000_000, using: &random)
                let expected = model.update(value, forKey: key)
                if step % 2 == 0 {
                    #expect(map.updateValue(value, forKey: key) == expected)
                } else {
                    #expect(map.updateValue(forKey: key) { $0 == expected ? value : -1 } == expected)
                }
            case 4..<7:
                #expect(map.removeValue(forKey: key) == model.remove(key))
            case 7:
                #expect(map[key] == model.index(of: key).map { model.pairs[$0].value })
                #expect(map.contains(key) == (model.index(of: key) != nil))
                let found = map.modifyValue(orderedBy: { key - $0 }) { value in
                    defer { value += 1 }
                    return value
                }
                #expect(found == model.index(of: key).map { model.pairs[$0].value })
                if found != nil { _ = model.update(found! + 1, forKey: key) }
            case 8:
                #expect(Self.same(map.first(atLeast: key), model.pairs.first { $0.key >= key }))
                #expect(Self.same(map.first(greaterThan: key), model.pairs.first { $0.key > key }))
                #expect(Self.same(map.last(lessThan: key), model.pairs.last { $0.key < key }))
                #expect(Self.same(map.last(atMost: key), model.pairs.last { $0.key <= key }))
                #expect(map.count(below: key) == model.pairs.count { $0.key < key })
            default:
                let ascending = Array(map.ascending(from: key).prefix(5)).map(\.key)
                #expect(ascending == Array(model.pairs.filter { $0.key >= key }.prefix(5)).map(\.key))
                let descending = Array(map.descending(below: key).prefix(5)).map(\.key)
                #expect(descending == Array(model.pairs.filter { $0.key < key }.reversed().prefix(5)).map(\.key))
            }
            #expect(map.count == model.pairs.count)
            if step % 250 == 0 {
                #expect(map.invariantViolation() == nil)
                #expect(map.map(\.key) == model.pairs.map(\.key))
                #expect(map.map(\.value) == model.pairs.map(\.value))
                #expect(Self.same(map.first, model.pairs.first))
                #expect(Self.same(map.last, model.pairs.last))
            }
        }
        #expect(map.invariantViolation() == nil)
        #expect(map.map(\.key) == model.pairs.map(\.key))
    }

    @Test func ascendingInsertsStayBalanced() {
        var map = SortedMap<Int, Int>()
        for key in 0..<10_000 { map[key] = key * 2 }
        #expect(map.invariantViolation() == nil)
        #expect(map.count == 10_000)
        #expect(map[9_999] == 19_998)
        for key in stride(from: 0, to: 10_000, by: 2) { map[key] = nil }
        #expect(map.invariantViolation() == nil)
        #expect(map.count == 5_000)
        #expect(map.first?.key == 1)
        #expect(map.last?.key == 9_999)
        #expect(map.count(below: 100) == 50)
    }

    @Test func hasValueSemantics() {
        var original = SortedMap<String, Int>()
        for (i, key) in ["d", "b", "a", "c"].enumerated() { original[key] = i }
        var copy = original
        copy["b"] = nil
        copy["e"] = 9
        copy.modifyValue(forKey: "a") { $0 += 100 }
        #expect(original.map(\.key) == ["a", "b", "c", "d"])
        #expect(original["a"] == 2)
        #expect(copy.map(\.key) == ["a", "c", "d", "e"])
        #expect(copy["a"] == 102)
        #expect(copy.modifyValue(forKey: "zz") { $0 += 1 } == nil)
    }

    @Test func equalityIsByContentsNotShape() {
        var forward = SortedMap<Int, String>()
        var backward = SortedMap<Int, String>()
        for key in 0..<100 { forward[key] = "v\(key)" }
        for key in (0..<100).reversed() { backward[key] = "v\(key)" }
        backward[1_000] = "extra"
        #expect(forward != backward)
        backward[1_000] = nil
        #expect(forward == backward)
        backward[50] = "changed"
        #expect(forward != backward)
    }

    @Test func emptyMapSeeksFindNothing() {
        let map = SortedMap<Int, Int>()
        #expect(map.first == nil)
        #expect(map.last == nil)
        #expect(map.first(atLeast: 0) == nil)
        #expect(map.last(lessThan: 0) == nil)
        #expect(map.count(below: 10) == 0)
        #expect(Array(map).isEmpty)
        #expect(map.invariantViolation() == nil)
    }
}

extension SortedMap {
    /// Checks order, heights, sizes, balance and that every slot is reachable; for tests.
    func invariantViolation() -> String? {
        var reached = 0
        func check(_ index: Int32, above lower: Key?, below upper: Key?) -> (height: Int32, size: Int)? {
            if index < 0 { return (0, 0) }
            reached += 1
            let (key, link) = (keys[Int(index)], links[Int(index)])
            if let lower, !(lower < key) { return nil }
            if let upper, !(key < upper) { return nil }
            guard let left = check(link.left, above: lower, below: key),
                let right = check(link.right, above: key, below: upper)
            else { return nil }
            let height = Swift.max(left.height, right.height) + 1
            let size = left.size + right.size + 1
            guard abs(left.height - right.height) <= 1, link.height == height, Int(link.size) == size
            else { return nil }
            return (height, size)
        }
        guard let whole = check(root, above: nil, below: nil) else { return "order, height or size broken" }
        if whole.size != keys.count || reached != keys.count || values.count != keys.count || links.count != keys.count
        {
            return "unreachable slots"
        }
        return nil
    }
}

import Testing

@_spi(BatonInternals) @testable import BatonCore

@Suite struct IDTableTests {
    /// IDs as watches and waits get them: mostly the next one, sometimes past a gap, sometimes far
    /// ahead or behind (a lease ID chosen by a client).
    static func nextID(after last: Int64, using random: inout SplitMix64) -> Int64 {
        switch Int.random(in: 0..<20, using: &random) {
        case 0: return Int64.random(in: -1_000...1_000_000_000, using: &random)
        case 1: return last + Int64.random(in: 2...200, using: &random)
        case 2: return max(1, last - Int64.random(in: 1...500, using: &random))
        default: return last + 1
        }
    }

    @Test(arguments: [1, 2, 3, 42] as [UInt64])
    func matchesADictionary(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var table = IDTable<Int>()
        var model: [Int64: Int] = [:]
        // The model's IDs in an order that depends on the seed only (a dictionary's does not), so
        // that picking one at random replays; `live` lists them, `position` finds one in `live`.
        var live: [Int64] = []
        var position: [Int64: Int] = [:]
        func forget(_ id: Int64) {
            guard let index = position.removeValue(forKey: id) else { return }
            let moved = live.removeLast()
            if index < live.count {
                live[index] = moved
                position[moved] = index
            }
        }
        var last: Int64 = 0
        var strayed = false
        for step in 0..<10_000 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<4:
                last = Self.nextID(after: last, using: &random)
                table.insert(step, for: last)
                if model.updateValue(step, forKey: last) == nil {
                    position[last] = live.count
                    live.append(last)
                }
            case 4..<7:
                // Remove mostly old IDs, as queues drain from the front.
                let oldest = Bool.random(using: &random)
                guard let id = oldest ? live.min() : live.randomElement(using: &random) else { continue }
                forget(id)
                #expect(table.removeValue(for: id) == model.removeValue(forKey: id))
            case 7:
                let id = Int64.random(in: (last - 300)...(last + 300), using: &random)
                forget(id)
                #expect(table.removeValue(for: id) == model.removeValue(forKey: id))
            case 8:
                guard let id = live.randomElement(using: &random) else { continue }
                #expect(table.modifyValue(for: id) { $0 += 1 } != nil)
                model[id]! += 1
            default:
                let id = Int64.random(in: (last - 300)...(last + 300), using: &random)
                #expect(table[id] == model[id])
            }
            #expect(table.count == model.count)
            strayed = strayed || !table.strays.isEmpty
            // Memory stays in proportion to what is held, however IDs come and go.
            #expect(table.slots.count <= 8 * table.count + 256, "step \(step)")
        }
        #expect(strayed, "some IDs fell outside the window")
        #expect(table.ids == model.keys.sorted())
        #expect(table.values == model.sorted { $0.key < $1.key }.map(\.value))
        for (id, value) in model { #expect(table[id] == value) }
    }

    @Test func anOldValueLeftBehindDoesNotHoldTheWindowOpen() {
        var table = IDTable<Int>()
        table.insert(-1, for: 1)
        for id in Int64(2)...100_000 {
            table.insert(Int(id), for: id)
            table.removeValue(for: id)
        }
        #expect(table[1] == -1)
        #expect(table.count == 1)
        #expect(table.slots.count < 256)
    }

    /// An ID kept as a stray (it was far past the window) that the window later reaches lives in the
    /// window from its next insert on, and nowhere else: the random walk above never gets there.
    @Test func aStrayIDThatTheWindowReachesIsHeldOnce() {
        // Reached when the window is extended up to the stray's ID by inserting it.
        var restarted = IDTable<Int>()
        restarted.insert(1, for: 1)
        restarted.insert(-1_000, for: 1_000)  // far past the window's end: a stray
        restarted.removeValue(for: 1)  // the window empties, and starts again at the next ID
        restarted.insert(990, for: 990)
        restarted.insert(1_000, for: 1_000)  // extends the window over 1_000
        #expect(restarted.count == 2)
        #expect(restarted.removeValue(for: 1_000) == 1_000)
        #expect(restarted[1_000] == nil)
        #expect(restarted.count == 1)

        // Reached when the window was extended past the stray's ID first, leaving its slot empty.
        var extended = IDTable<Int>()
        for id in Int64(10)...80 { extended.insert(Int(id), for: id) }
        extended.insert(-300, for: 300)  // far past the window's end: a stray
        for id: Int64 in [140, 211, 301] { extended.insert(Int(id), for: id) }  // the window now spans 300
        #expect(extended[300] == -300)
        extended.insert(300, for: 300)
        #expect(extended.count == 71 + 4)
        #expect(extended.removeValue(for: 300) == 300)
        #expect(extended[300] == nil)
        #expect(extended.count == 71 + 3)
    }

    @Test func missingIDsAreAbsentAndChangeNothing() {
        var table = IDTable<String>()
        #expect(table[5] == nil)
        #expect(table.removeValue(for: 5) == nil)
        #expect(table.modifyValue(for: 5) { $0 = "x" } == nil)
        table.insert("a", for: .max)
        table.insert("b", for: .min)
        table.insert("c", for: 0)
        #expect(table[.max] == "a" && table[.min] == "b" && table[0] == "c")
        #expect(table.ids == [.min, 0, .max])
        #expect(table.isEmpty == false)
    }

    @Test func equalityIgnoresLayout() {
        var inOrder = IDTable<Int>()
        var scattered = IDTable<Int>()
        for id in Int64(1)...300 { inOrder.insert(Int(id), for: id) }
        for id in Int64(1)...300 { scattered.insert(Int(301 - id), for: 301 - id) }
        #expect(inOrder == scattered)
        scattered.modifyValue(for: 7) { $0 = 0 }
        #expect(inOrder != scattered)
    }
}

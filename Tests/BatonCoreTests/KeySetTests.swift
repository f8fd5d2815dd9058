import Testing

@testable import BatonCore

@Suite struct KeySetTests {
    /// Random inserts and removes over a few keys, so the set often holds one key, often none, and
    /// sometimes several: it must answer as a `Set` does at every step.
    @Test(arguments: [1, 2, 3, 42] as [UInt64])
    func matchesASet(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let keys: [Key] = ["a/1", "a/2", "b/1", "a/10", ""]
        var set = KeySet()
        var model: Set<Key> = []
        var sizes: Set<Int> = []
        for _ in 0..<5_000 {
            let key = keys.randomElement(using: &random)!
            // Removes slightly more often than inserts, so the set keeps coming back to one key and to none.
            if Int.random(in: 0..<9, using: &random) < 4 {
                #expect(set.insert(key) == model.insert(key).inserted)
            } else {
                #expect(set.remove(key) == (model.remove(key) != nil))
            }
            #expect(set.count == model.count)
            #expect(set.isEmpty == model.isEmpty)
            #expect(set.sorted() == model.sorted())
            for key in keys { #expect(set.contains(key) == model.contains(key)) }
            sizes.insert(model.count)
        }
        #expect(sizes.isSuperset(of: [0, 1, 2, 3]), "the walk visited \(sizes.sorted())")
    }

    /// Two sets with the same keys are equal whether each holds its key inline or in its `Set`.
    @Test func equalityIgnoresHowTheKeysAreHeld() {
        var inline = KeySet()
        inline.insert("a")
        var spilled = KeySet()
        spilled.insert("b")
        spilled.insert("a")
        #expect(inline != spilled)
        spilled.remove("b")  // one key left, kept in the `Set`
        #expect(inline == spilled)
        #expect(spilled.sorted() == ["a"])
        spilled.remove("a")
        spilled.insert("c")  // empty again: the next key is inline
        var other = KeySet()
        other.insert("c")
        #expect(spilled == other)
        #expect(KeySet() == KeySet())
        #expect(!KeySet().contains(""))
    }
}

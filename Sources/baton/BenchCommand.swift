/// `baton bench`: lands with the benchmarks.
func runBench(_ arguments: [String]) async -> Int32 {
    print("baton bench: not built yet")
    return 1
}

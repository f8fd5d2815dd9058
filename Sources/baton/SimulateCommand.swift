/// `baton simulate`: lands with the simulation.
func runSimulate(_ arguments: [String]) async -> Int32 {
    print("baton simulate: not built yet")
    return 1
}

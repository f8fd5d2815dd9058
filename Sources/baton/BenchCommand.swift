/// `baton bench`: lands with the benchmarks.
func runBench(_ arguments: [String]) async -> Int32 {
    if arguments.first == "etcd" { return await runEtcdBench(Array(arguments.dropFirst())) }
    print("baton bench: not built yet")
    return 1
}

/// `baton bench`: performance figures for Baton, printed as a table or as JSON lines.
///
/// - `baton bench local [--json] [--quick | --size full|quick|tiny] [--only NAME,...]`: the `local:`
///   store against a floor written here (see ``FloorMutex``).
/// - `baton bench etcd --endpoints URL`: see `BenchEtcd.swift`.
///
/// Results go to standard output, progress to standard error. Figures are reported, never judged by
/// the exit status: it is 0 whenever every benchmark ran.
func runBench(_ arguments: [String]) async -> Int32 {
    switch arguments.first {
    case "local": return await runLocalBench(Array(arguments.dropFirst()))
    case "etcd": return await runEtcdBench(Array(arguments.dropFirst()))
    case "memory-probe": return await MemoryBench.probe(Array(arguments.dropFirst()))
    default:
        print(benchUsage)
        return 2
    }
}

private let benchUsage = """
    usage: baton bench local [--json] [--quick | --size full|quick|tiny] [--only NAME[,NAME...]]
           baton bench etcd --endpoints URL[,URL] [--seconds N] [--json]
    """

/// The options of `baton bench local`.
struct BenchOptions: Equatable {
    var json = false
    var size = "full"
    var only: [String] = []

    /// Parses the arguments after `local`. - Returns: nil for a usage error.
    init?(_ arguments: [String]) {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            switch flag {
            case "--json": json = true
            case "--quick": size = "quick"
            case "--size":
                guard let value = rest.popFirst(), BenchSize.all.contains(where: { $0.name == value }) else {
                    return nil
                }
                size = value
            case "--only":
                guard let value = rest.popFirst(), !value.isEmpty else { return nil }
                only += value.split(separator: ",").map(String.init)
            default: return nil
            }
        }
    }

    /// Whether `--only` selects the benchmark `name` (a selector matches a name or any name it prefixes).
    func selects(_ name: String) -> Bool {
        only.isEmpty || only.contains { name == $0 || name.hasPrefix($0 + ".") || $0.hasPrefix(name + ".") }
    }
}

func runLocalBench(_ arguments: [String]) async -> Int32 {
    guard let options = BenchOptions(arguments), let size = BenchSize.all.first(where: { $0.name == options.size })
    else {
        print(benchUsage)
        return 2
    }
    let clock = ContinuousClock(), start = clock.now
    var rows: [BenchRow] = []
    for bench in LocalBench(size: size).all where options.selects(bench.name) {
        BenchProcess.progress("\(bench.name) ...")
        do {
            let (result, took) = try await benchTimed(bench.run)
            rows += result
            BenchProcess.progress("\(bench.name): \(BenchFormat.fixed(took.benchSeconds, digits: 1)) s")
        } catch {
            BenchProcess.progress("\(bench.name) failed: \(error)")
            print("baton bench: \(bench.name) failed: \(error)")
            return 1
        }
    }
    let elapsed = start.duration(to: clock.now)
    if options.json {
        for line in BenchFormat.jsonLines(rows) { print(line) }
    } else {
        #if DEBUG
            let build = "debug build: figures are not representative"
        #else
            let build = "release build"
        #endif
        print(
            "baton bench local (size \(size.name), \(build), \(BenchFormat.fixed(elapsed.benchSeconds, digits: 1)) s)")
        print("floor: an actor-based async FIFO mutex with cancellation, used the same way.")
        print("ratio = how many times worse than the floor: floor rate / Baton rate, or Baton cost / floor cost.")
        print("")
        for line in BenchFormat.table(rows) { print(line) }
    }
    BenchProcess.progress("baton bench local: \(BenchFormat.fixed(elapsed.benchSeconds, digits: 1)) s")
    return 0
}

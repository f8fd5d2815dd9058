import Baton
import Synchronization

/// `baton bench etcd --endpoints URL[,URL...] [--seconds N] [--json]`: lock+unlock cycles per second
/// against a real etcd, each next to the limit a cycle cannot beat.
///
/// Three cases, each with sessions reused across cycles: one client; eight clients on eight names;
/// eight clients on one name. "N clients" are N separate ``BatonClient``s, each with its own gateway
/// (its own connections) and session, in this one process. An uncontended cycle is two round trips
/// (the waiter-key transaction and the unlock's delete), so its limit is the rate of a put+delete pair
/// through the same clients. Two more lines, for diagnosis, give rates against the same limit of
/// requests sent by hand, without the recipe: the two an uncontended Baton turn sends, a transaction
/// with one compare and one put (create the key if the name is free) and a delete — the least any safe
/// cycle sends, so the gap between them and put+delete is etcd's cost of a transaction, and the gap
/// between them and the first line is the recipe's own cost; and etcd's lock transaction (compare,
/// read the newest key, put) with the delete, which is what Baton sends once a name is busy.
///
/// Each case alternates with its baseline in rounds of about half a second (at least three), so a
/// machine whose load changes during the run skews both alike. `ratio` is value / baseline: the share
/// of the limit reached (targets: ≥ 0.90 uncontended; ≥ 300 cycles/s for eight clients on one name).
/// etcd's disk makes single rounds vary by ±20% or more, so each ratio is printed with the range of
/// the rounds' own ratios and their standard error: how far the figure can be trusted.
///
/// Nothing is started: without `--endpoints` this prints usage and exits 2. Figures are measured on
/// the wall clock and reported, not judged: the exit status is 0 whenever every case ran, 1 if one
/// failed or two holders of one name were ever seen inside at once.
func runEtcdBench(_ arguments: [String]) async -> Int32 {
    guard let options = EtcdBenchOptions(arguments) else {
        print(EtcdBenchOptions.usage)
        return 2
    }
    do {
        try await EtcdBench(options: options).run { result in
            print(options.json ? result.json : result.text)
        }
        return 0
    } catch {
        print("baton bench etcd: \(error)")
        return 1
    }
}

/// The options of `baton bench etcd`.
private struct EtcdBenchOptions {
    static let usage = "usage: baton bench etcd --endpoints URL[,URL...] [--seconds N] [--json]"

    var endpoints: [String] = []
    /// How long each case and each baseline runs.
    var seconds: Double = 3
    var json = false

    /// Parses the arguments after `etcd`. - Returns: nil for a usage error (no endpoints included).
    init?(_ arguments: [String]) {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            switch flag {
            case "--json": json = true
            case "--endpoints":
                guard let value = rest.popFirst(), !value.isEmpty else { return nil }
                endpoints = value.split(separator: ",").map(String.init)
            case "--seconds":
                guard let value = rest.popFirst(), let number = Double(value), number >= 0.3, number <= 3600 else {
                    return nil
                }
                seconds = number
            default: return nil
            }
        }
        guard !endpoints.isEmpty else { return nil }
    }
}

/// One printed figure.
private struct EtcdBenchResult {
    var name: String
    var description: String
    var value: Double
    var unit: String
    var baseline: Double
    /// Each round's value / baseline.
    var roundRatios: [Double]
    var target: String?

    init(name: String, description: String, unit: String, target: String?, _ comparison: EtcdBenchComparison) {
        self.name = name
        self.description = description
        self.unit = unit
        self.target = target
        (value, baseline, roundRatios) = (comparison.subject, comparison.baseline, comparison.roundRatios)
    }

    var ratio: Double { baseline > 0 ? value / baseline : 0 }

    /// The standard error of the mean of ``roundRatios``: 0 for fewer than two rounds.
    var ratioStandardError: Double {
        let count = Double(roundRatios.count)
        guard count > 1 else { return 0 }
        let mean = roundRatios.reduce(0, +) / count
        let variance = roundRatios.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (count - 1)
        return (variance / count).squareRoot()
    }

    /// `lock+unlock, 1 client: 612 cycles/s; put+delete limit 700 pairs/s; ratio 0.87 (target ≥ 0.90);
    /// 10 rounds 0.74–1.02, standard error 0.03`.
    var text: String {
        "\(description): \(Self.fixed(value, 0)) \(unit); put+delete limit \(Self.fixed(baseline, 0)) pairs/s; "
            + "ratio \(Self.fixed(ratio, 2))" + (target.map { " (target \($0))" } ?? "")
            + "; \(roundRatios.count) rounds \(Self.fixed(roundRatios.min() ?? 0, 2))–\(Self.fixed(roundRatios.max() ?? 0, 2)), "
            + "standard error \(Self.fixed(ratioStandardError, 2))"
    }

    /// `{"name":…,"value":…,"unit":…,"baseline":…,"ratio":…,"rounds":…,"ratio_standard_error":…}`.
    var json: String {
        "{\"name\":\"\(name)\",\"value\":\(Self.fixed(value, 1)),\"unit\":\"\(unit)\","
            + "\"baseline\":\(Self.fixed(baseline, 1)),\"ratio\":\(Self.fixed(ratio, 3)),"
            + "\"rounds\":\(roundRatios.count),\"ratio_standard_error\":\(Self.fixed(ratioStandardError, 3))}"
    }

    /// `value` with `digits` decimals, without Foundation.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return "0" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = UInt64((abs(value) * scale).rounded())
        let unit = UInt64(scale)
        var text = String(scaled / unit)
        if digits > 0 {
            let fraction = String(scaled % unit)
            text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
        }
        return (value < 0 ? "-" : "") + text
    }
}

/// A case's and its baseline's rates over all rounds, and each round's ratio of the two.
private struct EtcdBenchComparison {
    var subject: Double
    var baseline: Double
    var roundRatios: [Double]
}

/// Completed cycles and the time they took.
private struct EtcdBenchTally {
    var cycles = 0
    var elapsed = Duration.zero

    var rate: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return seconds > 0 ? Double(cycles) / seconds : 0
    }

    static func + (a: EtcdBenchTally, b: EtcdBenchTally) -> EtcdBenchTally {
        EtcdBenchTally(cycles: a.cycles + b.cycles, elapsed: a.elapsed + b.elapsed)
    }
}

/// Counts the requests a client sends, by kind: how many round trips a cycle costs.
private final class CountingBackend: Backend {
    let base: any Backend
    private let counts = Mutex<[String: Int]>([:])

    init(_ base: any Backend) { self.base = base }

    private func count(_ kind: String) { counts.withLock { $0[kind, default: 0] += 1 } }

    /// The counts so far, and resets them.
    func take() -> [String: Int] {
        counts.withLock { counts in
            defer { counts = [:] }; return counts
        }
    }

    func range(_ request: RangeRequest) async throws -> RangeResponse {
        count("range")
        return try await base.range(request)
    }
    func put(_ request: PutRequest) async throws -> PutResponse {
        count("put")
        return try await base.put(request)
    }
    func deleteRange(_ request: DeleteRangeRequest) async throws -> DeleteRangeResponse {
        count("delete")
        return try await base.deleteRange(request)
    }
    func txn(_ request: TxnRequest) async throws -> TxnResponse {
        count("txn")
        return try await base.txn(request)
    }
    func compact(revision: Int64) async throws { try await base.compact(revision: revision) }
    func grantLease(ttl: Int64, id: LeaseID?) async throws -> LeaseGrant {
        count("lease")
        return try await base.grantLease(ttl: ttl, id: id)
    }
    func keepAliveLease(_ id: LeaseID) async throws -> Int64 {
        count("keepalive")
        return try await base.keepAliveLease(id)
    }
    func revokeLease(_ id: LeaseID) async throws {
        count("lease")
        try await base.revokeLease(id)
    }
    func leaseTimeToLive(_ id: LeaseID, keys: Bool) async throws -> LeaseTimeToLive {
        count("lease")
        return try await base.leaseTimeToLive(id, keys: keys)
    }
    func watch(_ request: WatchRequest) async throws -> WatchStream {
        count("watch")
        return try await base.watch(request)
    }
    func watchWithRevision(_ request: WatchRequest) async throws -> (events: WatchStream, revision: Int64?) {
        count("watch")
        return try await base.watchWithRevision(request)
    }
    func close() async { await base.close() }
}

/// One cycle of a benchmark loop.
private typealias EtcdBenchCycle = @Sendable () async throws -> Void

/// Runs the cases against one etcd.
private struct EtcdBench {
    let options: EtcdBenchOptions
    /// Keys and names of this run start with it, so runs never meet.
    let tag = "baton-bench-\(UInt32.random(in: 0...UInt32.max))"
    let clock = ContinuousClock()  // a benchmark of real I/O measures real time
    /// How long a round of a case, or of its baseline, runs.
    static let roundSeconds = 0.5

    var connectionString: String { "etcd:" + options.endpoints.joined(separator: ",") }

    func run(report: (EtcdBenchResult) -> Void) async throws {
        var clients: [BatonClient] = []
        do {
            for _ in 0..<8 {
                // Each client its own gateway, as `connect` makes it, behind a request counter.
                let connected = try await BatonClient.connect(connectionString)
                clients.append(
                    BatonClient(
                        backend: CountingBackend(connected.backend), environment: connected.environment,
                        keyPrefix: connected.keyPrefix))
            }
            try await measure(clients, report: report)
        } catch {
            for client in clients { await client.close() }
            throw error
        }
        for client in clients { await client.close() }
    }

    private func measure(_ clients: [BatonClient], report: (EtcdBenchResult) -> Void) async throws {
        let counters = clients.compactMap { $0.backend as? CountingBackend }
        var sessions: [Session] = []
        for client in clients { sessions.append(try await client.session(ttl: .seconds(30))) }
        let single = Array(sessions.prefix(1))

        let soloLocks = try locks(single, names: ["\(tag)-solo"])
        report(
            EtcdBenchResult(
                name: "etcd.lock.1client", description: "lock+unlock, 1 client", unit: "cycles/s",
                target: "ratio >= 0.90", try await compare(soloLocks, with: pairs(single))))
        try await printRequestsPerCycle(soloLocks, counters)
        report(
            EtcdBenchResult(
                name: "etcd.lock.8clients.8names", description: "lock+unlock, 8 clients on 8 names",
                unit: "cycles/s", target: "ratio >= 0.90",
                try await compare(locks(sessions, names: (0..<8).map { "\(tag)-own-\($0)" }), with: pairs(sessions))))
        let sharedLocks = try locks(sessions, names: Array(repeating: "\(tag)-shared", count: 8))
        report(
            EtcdBenchResult(
                name: "etcd.lock.8clients.1name", description: "lock+unlock, 8 clients on 1 name",
                unit: "cycles/s", target: ">= 300 cycles/s", try await compare(sharedLocks, with: pairs(sessions))))
        try await printRequestsPerCycle(sharedLocks, counters)
        report(
            EtcdBenchResult(
                name: "etcd.byhand.baton.1client",
                description: "Baton's uncontended requests by hand (create if the name is free; delete), 1 client",
                unit: "pairs/s", target: nil,
                try await compare(byHand(single[0], Key("\(tag)-short/"), .ifNameFree), with: pairs(single))))
        report(
            EtcdBenchResult(
                name: "etcd.byhand.etcd.1client",
                description: "etcd's lock transaction and the delete by hand, 1 client", unit: "pairs/s",
                target: nil,
                try await compare(byHand(single[0], Key("\(tag)-full/"), .readingPredecessor), with: pairs(single))))

        for session in sessions { try? await session.close() }
    }

    /// Prints (text output only) how many requests of each kind a cycle of `cycles` sends, counted
    /// over one more second: what a cycle costs the server, beyond its round trips.
    private func printRequestsPerCycle(_ cycles: [EtcdBenchCycle], _ counters: [CountingBackend]) async throws {
        guard !options.json else { return }
        for counter in counters { _ = counter.take() }
        let tally = try await loop(cycles, for: .seconds(1))
        var total: [String: Int] = [:]
        for counter in counters { total.merge(counter.take(), uniquingKeysWith: +) }
        let perCycle = { (count: Int) in EtcdBenchResult.fixed(Double(count) / Double(max(tally.cycles, 1)), 2) }
        let parts = total.sorted { $0.key < $1.key }.map { "\($0.key) \(perCycle($0.value))" }
        print("  requests per cycle: \(perCycle(total.values.reduce(0, +))) (\(parts.joined(separator: ", ")))")
    }

    /// Put+delete pairs, each session's client looping on a key of its own.
    private func pairs(_ sessions: [Session]) -> [EtcdBenchCycle] {
        sessions.indices.map { index in
            let backend = sessions[index].client.backend
            let key = Key("\(tag)/raw/\(index)")
            return {
                _ = try await backend.put(PutRequest(key: key))
                _ = try await backend.deleteRange(DeleteRangeRequest(.key(key)))
            }
        }
    }

    /// Lock+unlock cycles, session `i` on `names[i]`; fails if two holders of a name are ever inside
    /// at once.
    private func locks(_ sessions: [Session], names: [String]) throws -> [EtcdBenchCycle] {
        let inside = Mutex<[String: Int]>([:])
        return try sessions.indices.map { index in
            let mutex = try sessions[index].mutex(names[index])
            return {
                let grant = try await mutex.lock()
                let overlap = inside.withLock { inside -> Bool in
                    inside[mutex.name, default: 0] += 1
                    return inside[mutex.name]! > 1
                }
                if overlap { throw BatonError(.lockLost, "two holders of \(mutex.name) at once") }
                inside.withLock { $0[mutex.name]! -= 1 }
                try await grant.unlock()
            }
        }
    }

    /// A lock + unlock's two requests sent by hand, without the recipe, under `prefix`.
    private func byHand(_ session: Session, _ prefix: Key, _ create: RecipeRequests.Create) -> [EtcdBenchCycle] {
        let requests = RecipeRequests(session.client.backend, prefix: prefix, lease: session.lease, create: create)
        return [{ try await requests.send() }]
    }

    /// Runs `subject` and `baseline` alternately, after a warm-up of each, in rounds of about half a
    /// second each (at least three); returns both rates and each round's ratio.
    private func compare(_ subject: [EtcdBenchCycle], with baseline: [EtcdBenchCycle]) async throws
        -> EtcdBenchComparison
    {
        try await warmUp(subject)
        try await warmUp(baseline)
        let rounds = max(3, Int((options.seconds / Self.roundSeconds).rounded()))
        let slice = Duration.milliseconds(Int64(options.seconds * 1000) / Int64(rounds))
        var subjectTally = EtcdBenchTally(), baselineTally = EtcdBenchTally()
        var roundRatios: [Double] = []
        for _ in 0..<rounds {
            let subjectRound = try await loop(subject, for: slice)
            let baselineRound = try await loop(baseline, for: slice)
            if baselineRound.rate > 0 { roundRatios.append(subjectRound.rate / baselineRound.rate) }
            subjectTally = subjectTally + subjectRound
            baselineTally = baselineTally + baselineRound
        }
        return EtcdBenchComparison(subject: subjectTally.rate, baseline: baselineTally.rate, roundRatios: roundRatios)
    }

    /// Ten cycles per loop: connections opened, watches exercised.
    private func warmUp(_ cycles: [EtcdBenchCycle]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for cycle in cycles { group.addTask { for _ in 0..<10 { try await cycle() } } }
            try await group.waitForAll()
        }
    }

    /// Runs every loop until `duration` has passed; counts completed cycles over the time until the
    /// last loop finished its last cycle.
    private func loop(_ cycles: [EtcdBenchCycle], for duration: Duration) async throws -> EtcdBenchTally {
        let start = clock.now, deadline = start + duration
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for cycle in cycles {
                group.addTask {
                    var count = 0
                    while clock.now < deadline {
                        try await cycle()
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        return EtcdBenchTally(cycles: total, elapsed: start.duration(to: clock.now))
    }
}

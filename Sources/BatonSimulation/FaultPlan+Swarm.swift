import Baton

extension FaultPlan {
    /// How a swarm-generated plan is shaped for one scenario.
    public struct SwarmShape: Sendable, Hashable {
        /// Client names faults may target.
        public var clients: [String]
        /// Faults start within `horizon` (the safety phase).
        public var horizon: Duration
        /// The session TTL, which scales pauses (often longer than it) and crash restarts.
        public var ttl: Duration
        /// Whether the server may be paused.
        public var serverPauses: Bool
        /// The most faults one plan may hold.
        public var maximumFaults: Int
        /// How much more likely a pause is than other faults (the stale-holder fault).
        public var pauseWeight: Int

        /// Creates a shape.
        public init(clients: [String], horizon: Duration, ttl: Duration, serverPauses: Bool = true, maximumFaults: Int = 8, pauseWeight: Int = 2) {
            self.clients = clients
            self.horizon = horizon
            self.ttl = ttl
            self.serverPauses = serverPauses
            self.maximumFaults = maximumFaults
            self.pauseWeight = pauseWeight
        }
    }

    /// A plan drawn from `seed` swarm-style: each seed enables a different subset of fault kinds and a
    /// different intensity, so one sweep covers calm runs, single-fault runs and storms.
    public static func swarm(seed: UInt64, shape: SwarmShape) -> FaultPlan {
        let random = RandomSource(seed: seed).split("faults")
        enum Kind: CaseIterable { case pause, crash, partition, loss, delay, serverPause }
        var kinds = Kind.allCases.filter { _ in random.chance(0.5) }
        if !shape.serverPauses { kinds.removeAll { $0 == .serverPause } }
        var faults: [Fault] = []
        if random.chance(0.3) {
            for client in shape.clients where random.chance(0.4) {
                faults.append(.drift(node: client, ratePPM: Int64(random.int(in: 700_000...1_300_000))))
            }
        }
        guard !kinds.isEmpty, !shape.clients.isEmpty else { return FaultPlan(faults) }
        var weighted: [Kind] = []
        for kind in kinds { weighted += Array(repeating: kind, count: kind == .pause ? max(1, shape.pauseWeight) : 1) }
        let count = random.int(in: 1...max(1, shape.maximumFaults))
        let ttl = shape.ttl.milliseconds, horizon = shape.horizon.milliseconds
        func ms(_ range: ClosedRange<Int64>) -> Duration { .milliseconds(Int64(random.int(in: Int(range.lowerBound)...Int(max(range.lowerBound, range.upperBound))))) }
        for _ in 0..<count {
            let start = ms(horizon / 20...horizon * 4 / 5)
            let client = shape.clients[random.int(in: 0...shape.clients.count - 1)]
            switch weighted[random.int(in: 0...weighted.count - 1)] {
            case .pause: faults.append(.pause(node: client, at: start, duration: ms(ttl / 5...ttl * 5 / 2)))
            case .crash: faults.append(.crash(node: client, at: start, restartAfter: random.chance(0.6) ? ms(ttl / 2...ttl * 3) : nil))
            case .partition:
                let direction = FaultPlan.Direction.allCases[random.int(in: 0...2)]
                faults.append(.partition(node: client, direction: direction, at: start, duration: ms(500...ttl * 2)))
            case .loss: faults.append(.loss(perMille: random.int(in: 10...200), at: start, duration: ms(1000...horizon / 3)))
            case .delay: faults.append(.delay(extra: ms(5...500), at: start, duration: ms(1000...horizon / 4)))
            case .serverPause: faults.append(.pause(node: "server", at: start, duration: ms(ttl / 5...ttl * 3 / 2)))
            }
        }
        return FaultPlan(faults)
    }
}

extension Duration {
    /// Whole milliseconds (truncating).
    var milliseconds: Int64 { nanoseconds / 1_000_000 }
}

import Baton

extension FaultPlan {
    /// The kinds of fault a swarm draws from.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case pause, crash, partition, loss, delay, stall, serverPause
    }

    /// How a swarm-generated plan is shaped for one scenario.
    public struct SwarmShape: Sendable, Hashable {
        /// Client names faults may target.
        public var clients: [String]
        /// Faults start within `horizon` (the fault phase).
        public var horizon: Duration
        /// The longest session TTL, which scales pauses (often longer than it) and crash restarts.
        public var ttl: Duration
        /// The most faults one plan may hold.
        public var maximumFaults: Int
        /// Relative weight of each kind once enabled (0: never). Each seed enables each kind with
        /// probability 1/2, then draws faults among the enabled kinds by weight.
        public var weights: [Kind: Int]
        /// Probability that a seed gives some clients a drifting clock.
        public var drift: Double
        /// How long client pauses last (default: a fifth of the TTL to two and a half TTLs).
        public var pauses: ClosedRange<Duration>?

        /// Creates a shape; by default every kind is equally likely except pauses (twice as likely).
        public init(
            clients: [String], horizon: Duration, ttl: Duration, maximumFaults: Int = 8,
            weights: [Kind: Int] = [
                .pause: 2, .crash: 1, .partition: 1, .loss: 1, .delay: 1, .stall: 1, .serverPause: 1,
            ],
            drift: Double = 0.3
        ) {
            self.clients = clients
            self.horizon = horizon
            self.ttl = ttl
            self.maximumFaults = maximumFaults
            self.weights = weights
            self.drift = drift
        }
    }

    /// A plan drawn from `seed` swarm-style: each seed enables a different subset of fault kinds and a
    /// different intensity, so one sweep covers calm runs, single-fault runs and storms.
    public static func swarm(seed: UInt64, shape: SwarmShape) -> FaultPlan {
        let random = RandomSource(seed: seed).split("faults")
        let kinds = Kind.allCases.filter { (shape.weights[$0] ?? 0) > 0 && random.chance(0.5) }
        var faults: [Fault] = []
        if random.chance(shape.drift) {
            for client in shape.clients where random.chance(0.4) {
                faults.append(.drift(node: client, ratePPM: Int64(random.int(in: 700_000...1_300_000))))
            }
        }
        guard !kinds.isEmpty, !shape.clients.isEmpty else { return FaultPlan(faults) }
        let weighted = kinds.flatMap { Array(repeating: $0, count: shape.weights[$0] ?? 0) }
        let count = random.int(in: 1...max(1, shape.maximumFaults))
        let ttl = shape.ttl.milliseconds, horizon = shape.horizon.milliseconds
        func ms(_ range: ClosedRange<Int64>) -> Duration {
            .milliseconds(Int64(random.int(in: Int(range.lowerBound)...Int(max(range.lowerBound, range.upperBound)))))
        }
        for _ in 0..<count {
            let start = ms(horizon / 20...horizon * 4 / 5)
            let client = shape.clients[random.int(in: 0...shape.clients.count - 1)]
            switch weighted[random.int(in: 0...weighted.count - 1)] {
            case .pause:
                let range =
                    shape.pauses.map { $0.lowerBound.milliseconds...$0.upperBound.milliseconds }
                    ?? (ttl / 5...ttl * 5 / 2)
                faults.append(.pause(node: client, at: start, duration: ms(range)))
            case .crash:
                faults.append(
                    .crash(node: client, at: start, restartAfter: random.chance(0.6) ? ms(ttl / 2...ttl * 3) : nil))
            case .partition:
                let direction = FaultPlan.Direction.allCases[random.int(in: 0...2)]
                faults.append(.partition(node: client, direction: direction, at: start, duration: ms(500...ttl * 2)))
            case .loss:
                faults.append(.loss(perMille: random.int(in: 10...200), at: start, duration: ms(1000...horizon / 3)))
            case .delay: faults.append(.delay(extra: ms(5...500), at: start, duration: ms(1000...horizon / 4)))
            case .stall:
                faults.append(.stall(perMille: random.int(in: 20...300), at: start, duration: ms(2000...horizon / 2)))
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

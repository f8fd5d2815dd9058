extension FaultPlan {
    /// Smaller plans to try when this one makes a run fail, most aggressive first: each fault
    /// removed, then each fault made shorter or milder. A shrinker keeps the first candidate that still
    /// fails and asks again, until no candidate fails.
    public var shrinkCandidates: [FaultPlan] {
        var candidates: [FaultPlan] = []
        for index in faults.indices {
            var smaller = faults
            smaller.remove(at: index)
            candidates.append(FaultPlan(smaller))
        }
        for index in faults.indices {
            guard let milder = FaultPlan.milder(faults[index]) else { continue }
            var changed = faults
            changed[index] = milder
            candidates.append(FaultPlan(changed))
        }
        return candidates
    }

    /// A plan's size for comparing shrink results: fault count, then total fault time.
    public var weight: (faults: Int, milliseconds: Int64) {
        var total: Int64 = 0
        for fault in faults {
            switch fault {
            case .pause(_, _, let d), .partition(_, _, _, let d), .loss(_, _, let d), .delay(_, _, let d),
                .stall(_, _, let d):
                total += d.milliseconds
            case .crash(_, _, let restart): total += restart?.milliseconds ?? 0
            case .drift(_, let rate): total += abs(rate - 1_000_000) / 1000
            }
        }
        return (faults.count, total)
    }

    private static func milder(_ fault: Fault) -> Fault? {
        func half(_ d: Duration) -> Duration? { d.milliseconds >= 200 ? .milliseconds(d.milliseconds / 2) : nil }
        switch fault {
        case .pause(let node, let at, let duration):
            return half(duration).map { .pause(node: node, at: at, duration: $0) }
        case .partition(let node, let direction, let at, let duration):
            if direction == .both { return .partition(node: node, direction: .toServer, at: at, duration: duration) }
            return half(duration).map { .partition(node: node, direction: direction, at: at, duration: $0) }
        case .crash(let node, let at, let restart):
            return restart.flatMap(half).map { .crash(node: node, at: at, restartAfter: $0) }
        case .loss(let perMille, let at, let duration):
            return perMille >= 10 ? .loss(perMille: perMille / 2, at: at, duration: duration) : nil
        case .delay(let extra, let at, let duration):
            return half(duration).map { .delay(extra: extra, at: at, duration: $0) }
        case .stall(let perMille, let at, let duration):
            return half(duration).map { .stall(perMille: perMille, at: at, duration: $0) }
        case .drift(let node, let rate):
            let closer = 1_000_000 + (rate - 1_000_000) / 2
            return abs(rate - 1_000_000) >= 10_000 ? .drift(node: node, ratePPM: closer) : nil
        }
    }
}

/// The faults of one run, as data: generated from a seed (``swarm(seed:shape:)``),
/// printed (``description``), parsed back (`FaultPlan(_ description:)`) and shrunk (``shrinkCandidates``).
///
/// The text form is a `;`-separated list, one fault each, times in milliseconds since the start:
///
/// ```
/// pause:c2@3200ms+7500ms; crash:c4@20000ms+5000ms; partition-out:c1@10000ms+4000ms;
/// pause:server@9000ms+1500ms; loss:0.050@0ms+10000ms; delay:80ms@5000ms+3000ms;
/// stall:0.100@2000ms+8000ms; drift:c1=0.850000
/// ```
///
/// `crash:c4@T` never restarts; `crash:c4@T+D` restarts after D. `partition` cuts both directions,
/// `partition-out` only the client's requests, `partition-in` only the server's replies and events.
/// `none` is the empty plan.
public struct FaultPlan: Sendable, Hashable, CustomStringConvertible, LosslessStringConvertible {
    /// Which directions a partition cuts between a client and the server.
    public enum Direction: String, Sendable, Hashable, CaseIterable {
        case both = "partition", toServer = "partition-out", fromServer = "partition-in"
    }

    /// One fault.
    public enum Fault: Sendable, Hashable, CustomStringConvertible {
        /// Holds every job of `node` (a client or `server`) from `at` for `duration`.
        case pause(node: String, at: Duration, duration: Duration)
        /// Freezes `node` at `at`; restarts it as a new incarnation after `restartAfter`, if given.
        case crash(node: String, at: Duration, restartAfter: Duration?)
        /// Cuts `node` off from the server from `at` for `duration`.
        case partition(node: String, direction: Direction, at: Duration, duration: Duration)
        /// Loses each message with `perMille`/1000 probability from `at` for `duration`.
        case loss(perMille: Int, at: Duration, duration: Duration)
        /// Adds `extra` one-way latency from `at` for `duration`.
        case delay(extra: Duration, at: Duration, duration: Duration)
        /// Stalls each request or reply with `perMille`/1000 probability from `at` for `duration`, by
        /// 0.5–4 s: a request applied after its caller timed out, overtaken by later ones.
        case stall(perMille: Int, at: Duration, duration: Duration)
        /// Runs `node`'s clock at `ratePPM` millionths of real time for the whole run.
        case drift(node: String, ratePPM: Int64)

        /// When the fault starts.
        public var start: Duration {
            switch self {
            case .pause(_, let at, _), .crash(_, let at, _), .partition(_, _, let at, _), .loss(_, let at, _),
                .delay(_, let at, _), .stall(_, let at, _):
                at
            case .drift: .zero
            }
        }

        public var description: String {
            switch self {
            case .pause(let node, let at, let duration): "pause:\(node)@\(ms(at))+\(ms(duration))"
            case .crash(let node, let at, let restart): "crash:\(node)@\(ms(at))" + (restart.map { "+\(ms($0))" } ?? "")
            case .partition(let node, let direction, let at, let duration):
                "\(direction.rawValue):\(node)@\(ms(at))+\(ms(duration))"
            case .loss(let perMille, let at, let duration):
                "loss:\(decimal(Int64(perMille), places: 3))@\(ms(at))+\(ms(duration))"
            case .delay(let extra, let at, let duration): "delay:\(ms(extra))@\(ms(at))+\(ms(duration))"
            case .stall(let perMille, let at, let duration):
                "stall:\(decimal(Int64(perMille), places: 3))@\(ms(at))+\(ms(duration))"
            case .drift(let node, let rate): "drift:\(node)=\(decimal(rate, places: 6))"
            }
        }
    }

    /// The faults, in the order they were generated or written.
    public var faults: [Fault]

    /// Creates a plan.
    public init(_ faults: [Fault] = []) { self.faults = faults }

    /// Parses the text form; `nil` if any fault is malformed.
    public init?(_ description: String) {
        let trimmed = description.trimmingSpaces
        if trimmed.isEmpty || trimmed == "none" {
            self.init([])
            return
        }
        var faults: [Fault] = []
        for part in trimmed.split(separator: ";") {
            guard let fault = FaultPlan.parse(String(part).trimmingSpaces) else { return nil }
            faults.append(fault)
        }
        self.init(faults)
    }

    public var description: String { faults.isEmpty ? "none" : faults.map(\.description).joined(separator: "; ") }

    /// The clock rate the plan gives `node` (1,000,000 ppm if none).
    public func ratePPM(of node: String) -> Int64 {
        for case .drift(let name, let rate) in faults where name == node { return rate }
        return 1_000_000
    }

    private static func parse(_ text: String) -> Fault? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let kind = String(text[..<colon]), rest = String(text[text.index(after: colon)...])
        if kind == "drift" {
            let parts = rest.split(separator: "=")
            guard parts.count == 2, let rate = parseDecimal(String(parts[1]), places: 6), rate > 0 else { return nil }
            return .drift(node: String(parts[0]), ratePPM: rate)
        }
        let at = rest.split(separator: "@", omittingEmptySubsequences: false)
        guard at.count == 2 else { return nil }
        let subject = String(at[0])
        let times = at[1].split(separator: "+", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(times.count), let start = parseDuration(times[0]) else { return nil }
        let length = times.count == 2 ? parseDuration(times[1]) : nil
        if times.count == 2, length == nil { return nil }
        switch kind {
        case "pause": return length.map { .pause(node: subject, at: start, duration: $0) }
        case "crash": return .crash(node: subject, at: start, restartAfter: length)
        case "loss":
            guard let length, let perMille = parseDecimal(subject, places: 3) else { return nil }
            return .loss(perMille: Int(perMille), at: start, duration: length)
        case "stall":
            guard let length, let perMille = parseDecimal(subject, places: 3) else { return nil }
            return .stall(perMille: Int(perMille), at: start, duration: length)
        case "delay":
            guard let length, let extra = parseDuration(subject) else { return nil }
            return .delay(extra: extra, at: start, duration: length)
        default:
            guard let direction = Direction(rawValue: kind), let length else { return nil }
            return .partition(node: subject, direction: direction, at: start, duration: length)
        }
    }
}

/// Milliseconds, exactly: `3200ms`.
private func ms(_ duration: Duration) -> String {
    "\(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)ms"
}

/// `value` / 10^places with all places: `decimal(850000, 6)` is `0.850000`.
private func decimal(_ value: Int64, places: Int) -> String {
    var scale: Int64 = 1
    for _ in 0..<places { scale *= 10 }
    let fraction = String(value % scale)
    return "\(value / scale)." + String(repeating: "0", count: places - fraction.count) + fraction
}

private func parseDecimal(_ text: String, places: Int) -> Int64? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard (1...2).contains(parts.count), let whole = Int64(parts[0]) else { return nil }
    var fraction = parts.count == 2 ? String(parts[1]) : ""
    guard fraction.count <= places, fraction.allSatisfy(\.isNumber) else { return nil }
    fraction += String(repeating: "0", count: places - fraction.count)
    var scale: Int64 = 1
    for _ in 0..<places { scale *= 10 }
    return whole * scale + (Int64(fraction) ?? 0)
}

private func parseDuration(_ text: String) -> Duration? {
    if text.hasSuffix("ms"), let value = Int64(text.dropLast(2)), value >= 0 { return .milliseconds(value) }
    if text.hasSuffix("s"), let value = Int64(text.dropLast(1)), value >= 0 { return .seconds(value) }
    return nil
}

extension String {
    var trimmingSpaces: String {
        String(
            drop { $0 == " " || $0 == "\n" || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\n" || $0 == "\t" }
                .reversed())
    }
}

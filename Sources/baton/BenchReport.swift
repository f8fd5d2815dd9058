/// One figure of `baton bench`: printed as a table row, or as one JSON object per line.
///
/// Throughput rows are rates (higher is better); latency and memory rows are costs (lower is better).
/// Either way `ratio` reads "how many times worse than the floor": `baseline / value` for a rate,
/// `value / baseline` for a cost, so a ratio of 1 means "as good as the floor" and 3 means "3× slower".
struct BenchRow: Sendable, Equatable {
    /// The benchmark, e.g. `local.handoff`.
    var name: String
    /// What was measured within it, e.g. `waiters=1000`.
    var variant: String
    /// The figure: a median for latencies, a mean rate for throughput.
    var value: Double
    /// `cycles/s`, `sessions/s`, `ns`, `bytes`, `x`.
    var unit: String
    /// The 99th percentile, for latencies.
    var p99: Double? = nil
    /// How many samples (latencies) or cycles (throughput) the figure rests on.
    var samples: Int? = nil
    /// The floor's figure, measured the same way in the same run.
    var baseline: Double? = nil
    /// What the issue asks of the figure, e.g. `ratio <= 3`.
    var target: String? = nil
    /// Whether the target was met (`nil` when there is none).
    var met: Bool? = nil
    /// Why the figure could not be measured: the row is then a table note and absent from the JSON.
    var unavailable: String? = nil

    /// How many times worse than the floor (see the type's documentation); `nil` without a floor.
    var ratio: Double? {
        guard let baseline, baseline > 0, value > 0, value.isFinite, baseline.isFinite else { return nil }
        return BenchRow.isRate(unit) ? baseline / value : value / baseline
    }

    /// Whether a unit is a rate (higher is better).
    static func isRate(_ unit: String) -> Bool { unit.hasSuffix("/s") }
}

/// Median and percentiles of latency samples (nearest-rank on the sorted samples).
struct BenchStatistics: Sendable, Equatable {
    let sorted: [Double]

    init(_ samples: [Double]) { sorted = samples.sorted() }

    var count: Int { sorted.count }

    /// The `p`-th percentile (0...100) by nearest rank; 0 for no samples.
    func percentile(_ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    var median: Double { percentile(50) }
    var p99: Double { percentile(99) }
}

/// Renders rows as JSON lines or as a table.
enum BenchFormat {
    /// One JSON object per available row: `name`, `case`, `value`, `unit`, and where they exist `p99`,
    /// `samples`, `baseline`, `ratio`, `target`, `met`. Unavailable rows are left out.
    static func jsonLines(_ rows: [BenchRow]) -> [String] {
        rows.filter { $0.unavailable == nil }.map { row in
            var fields: [(String, String)] = [
                ("name", quoted(row.name)), ("case", quoted(row.variant)),
                ("value", number(row.value)), ("unit", quoted(row.unit)),
            ]
            if let p99 = row.p99 { fields.append(("p99", number(p99))) }
            if let samples = row.samples { fields.append(("samples", String(samples))) }
            // A floor is printed with its ratio or not at all: on tiny sizes a memory probe can measure
            // no growth, and a ratio against zero means nothing.
            if let baseline = row.baseline, let ratio = row.ratio {
                fields.append(("baseline", number(baseline)))
                fields.append(("ratio", number(ratio, digits: 3)))
            }
            if let target = row.target { fields.append(("target", quoted(target))) }
            if let met = row.met { fields.append(("met", met ? "true" : "false")) }
            return "{" + fields.map { "\(quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
        }
    }

    /// A plain-text table, one row per figure, columns padded to fit. An unavailable row shows its
    /// reason after the case.
    static func table(_ rows: [BenchRow]) -> [String] {
        let header = ["benchmark", "case", "value", "p99", "floor", "ratio", "target"]
        let measured = rows.filter { $0.unavailable == nil }
        let body: [[String]] = measured.map { row in
            [
                row.name, row.variant, human(row.value, row.unit), row.p99.map { human($0, row.unit) } ?? "",
                row.baseline.map { human($0, row.unit) } ?? "", row.ratio.map { fixed($0, digits: 2) + "x" } ?? "",
                row.target.map { target in
                    target + (row.met == true ? " (met)" : row.met == false ? " (missed)" : "")
                } ?? "",
            ]
        }
        let all = [header] + body
        let widths = header.indices.map { column in
            (all.map { $0[column].count }
                + rows.filter { $0.unavailable != nil }.map { row in
                    column == 0 ? row.name.count : column == 1 ? row.variant.count : 0
                }).max() ?? 0
        }
        let numeric: Set<Int> = [2, 3, 4, 5]
        func line(_ cells: [String]) -> String {
            var text = cells.indices.map { column in
                let cell = cells[column], pad = String(repeating: " ", count: max(0, widths[column] - cell.count))
                return numeric.contains(column) ? pad + cell : cell + pad
            }.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text
        }
        var lines = [line(header), String(repeating: "-", count: widths.reduce(2 * (widths.count - 1), +))]
        var next = body.makeIterator()
        for row in rows {
            if let reason = row.unavailable {
                let pad = { (text: String, width: Int) in
                    text + String(repeating: " ", count: max(0, width - text.count))
                }
                lines.append(pad(row.name, widths[0]) + "  " + pad(row.variant, widths[1]) + "  " + reason)
            } else if let cells = next.next() {
                lines.append(line(cells))
            }
        }
        return lines
    }

    /// A figure with its unit, scaled for reading: `1.23 M cycles/s`, `12.4 µs`, `1.5 KiB`.
    static func human(_ value: Double, _ unit: String) -> String {
        guard value.isFinite else { return "-" }
        switch unit {
        case "ns":
            if value >= 1_000_000 { return fixed(value / 1_000_000, digits: 2) + " ms" }
            if value >= 1_000 { return fixed(value / 1_000, digits: 2) + " µs" }
            return fixed(value, digits: 0) + " ns"
        case "bytes":
            if value >= 10 * 1024 { return fixed(value / 1024, digits: 1) + " KiB" }
            return fixed(value, digits: 0) + " B"
        case "x":
            return fixed(value, digits: 2) + "x"
        case "s":
            if value < 0.001 { return fixed(value * 1_000_000, digits: 0) + " µs" }
            return value < 1 ? fixed(value * 1000, digits: 1) + " ms" : fixed(value, digits: 2) + " s"
        default:
            if value >= 10_000_000 { return fixed(value / 1_000_000, digits: 1) + " M " + unit }
            if value >= 10_000 { return fixed(value / 1_000, digits: 1) + " k " + unit }
            return fixed(value, digits: 0) + " " + unit
        }
    }

    /// `value` with exactly `digits` decimals, without Foundation.
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return String(value) }
        let whole = UInt64(scaled), unit = UInt64(scale)
        var text = String(whole / unit)
        if digits > 0 {
            let fraction = String(whole % unit)
            text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
        }
        return (value < 0 && scaled > 0 ? "-" : "") + text
    }

    /// A JSON number with at least four significant digits (one decimal from 1,000 up), trailing
    /// zeros dropped; `null` when not finite.
    static func number(_ value: Double, digits: Int? = nil) -> String {
        guard value.isFinite else { return "null" }
        let magnitude = abs(value)
        var text = fixed(value, digits: digits ?? (magnitude >= 1000 ? 1 : magnitude >= 1 ? 3 : 6))
        if text.contains(".") {
            while text.last == "0" { text.removeLast() }
            if text.last == "." { text.removeLast() }
        }
        return text
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

import Baton

/// What happened in a simulation, in order: a running hash always, and the lines themselves when
/// recording.
///
/// Frequent events (messages) are hashed from their numbers and formatted only when recording, so a
/// sweep pays almost nothing for the trace while `--trace` prints the very run whose hash it reports.
public final class Trace: @unchecked Sendable {  // driver-confined: only jobs and timers of one simulation touch it
    /// Whether lines are kept.
    public let isRecording: Bool
    /// The recorded lines (empty unless recording).
    public private(set) var lines: [String] = []
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325
    private let scheduler: Scheduler

    init(scheduler: Scheduler, recording: Bool) {
        self.scheduler = scheduler
        self.isRecording = recording
    }

    /// The hash of everything recorded so far.
    public var hash: UInt64 { state }

    /// Records a frequent event by its numbers; `text` is formatted only when recording.
    func event(_ code: UInt64, _ a: Int64, _ b: Int64, _ text: @autoclosure () -> String) {
        mix(code)
        mix(UInt64(bitPattern: a))
        mix(UInt64(bitPattern: b))
        mix(UInt64(bitPattern: scheduler.nowNanoseconds))
        if isRecording { append(text()) }
    }

    /// Records a rarer event by its text.
    func note(_ text: String) {
        for byte in text.utf8 { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
        mix(UInt64(bitPattern: scheduler.nowNanoseconds))
        if isRecording { append(text) }
    }

    private func mix(_ value: UInt64) {
        state = (state ^ value) &* 0x100_0000_01b3
        state ^= state >> 29
    }

    private func append(_ text: String) {
        lines.append("[\(Trace.format(scheduler.now))] \(text)")
    }

    /// A duration as seconds with microseconds, fixed width: `  12.000345s`.
    public static func format(_ duration: Duration) -> String {
        let nanos = duration.nanoseconds
        let micros = (nanos % 1_000_000_000) / 1000
        let seconds = String(nanos / 1_000_000_000)
        let fraction = String(micros)
        return String(repeating: " ", count: max(0, 4 - seconds.count)) + seconds + "."
            + String(repeating: "0", count: 6 - fraction.count) + fraction + "s"
    }
}

/// A 64-bit hash as 16 lowercase hex digits.
func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

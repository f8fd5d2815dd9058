import Baton

/// A node's clock in a simulation: a Swift `Clock` over the scheduler's virtual time, possibly running
/// at a rate other than 1 (clock drift).
///
/// `sleep(until:)` registers a timer with the ``Scheduler`` and suspends; a cancelled sleep resumes
/// promptly with `CancellationError`. Time only moves when every node is idle.
public struct SimulatedClock: Clock, Sendable {
    /// A point on a simulated clock: the local time since the simulation started.
    public struct Instant: InstantProtocol, Hashable, Sendable, CustomStringConvertible {
        /// Local time since the simulation started.
        public var offset: Duration
        /// Creates an instant at `offset` since the simulation started.
        public init(offset: Duration) { self.offset = offset }
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
        public var description: String { "\(offset)" }
    }

    private let scheduler: Scheduler
    private let node: Int32
    /// The clock's rate in parts per million of real (global virtual) time: 1,000,000 is exact.
    public let ratePPM: Int64

    /// Creates a clock for `node` running at `ratePPM` millionths of global time.
    public init(scheduler: Scheduler, node: Int32, ratePPM: Int64 = 1_000_000) {
        precondition(ratePPM > 0, "a clock must move forwards")
        self.scheduler = scheduler
        self.node = node
        self.ratePPM = ratePPM
    }

    /// The node's local time now.
    public var now: Instant { Instant(offset: .nanoseconds(local(scheduler.nowNanoseconds))) }
    /// One nanosecond.
    public var minimumResolution: Duration { .nanoseconds(1) }

    /// Suspends until this clock reads `deadline`. - Throws: `CancellationError` when cancelled.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await scheduler.sleep(untilNanoseconds: global(deadline.offset.nanoseconds), node: node)
    }

    /// Local nanoseconds at global nanoseconds `g`.
    func local(_ g: Int64) -> Int64 {
        ratePPM == 1_000_000 ? g : Int64(Int128(g) * Int128(ratePPM) / 1_000_000)
    }

    /// The first global nanosecond at which local time reaches `l`.
    func global(_ l: Int64) -> Int64 {
        guard ratePPM != 1_000_000 else { return l }
        let scaled = Int128(l) * 1_000_000
        let g = (scaled + Int128(ratePPM) - 1) / Int128(ratePPM)
        return g > Int128(Int64.max) ? Int64.max : Int64(g)
    }
}

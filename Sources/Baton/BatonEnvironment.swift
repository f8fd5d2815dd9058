import BatonCore
import Synchronization

/// Everything in Baton that waits, sleeps, starts background work or draws a random number takes it
/// from this one value.
///
/// In production it is ``BatonEnvironment/init(clock:taskExecutor:random:events:)`` with its defaults:
/// the continuous clock, no task executor, a randomly seeded source and no event sink. A simulation
/// passes its simulated clock, its scheduler's executor, a seeded source and a trace recorder, and the
/// very same library code then runs deterministically.
public struct BatonEnvironment: Sendable {
    /// The clock every timeout, keep-alive interval and deadline is measured on.
    public let clock: any Clock<Duration>
    /// The executor preference of every task Baton starts (`nil`: the default executor).
    public let taskExecutor: (any TaskExecutor)?
    /// The source of every random number Baton draws.
    public let random: RandomSource
    /// Where Baton reports what it does (sessions, grants, losses); discarded by default.
    public let events: EventSink
    /// Deliberate recipe bugs to plant, so a simulation can prove its oracles fail. Empty in
    /// production; every check of it is one set lookup on a path that already talks to a store.
    public let mutations: RecipeMutations

    private let timebase: Timebase

    /// Creates an environment.
    public init(
        clock: any Clock<Duration> = ContinuousClock(),  // determinism: the production default, injected
        taskExecutor: (any TaskExecutor)? = nil,
        random: RandomSource = RandomSource(),
        events: EventSink = .discard,
        mutations: RecipeMutations = []
    ) {
        self.clock = clock
        self.taskExecutor = taskExecutor
        self.random = random
        self.events = events
        self.mutations = mutations
        self.timebase = Timebase(clock)
    }

    /// The time elapsed on ``clock`` since this environment was created.
    public func now() -> Duration { timebase.now() }

    /// Suspends until ``now()`` reaches `deadline`. - Throws: `CancellationError` when cancelled.
    public func sleep(until deadline: Duration) async throws { try await timebase.sleepUntil(deadline) }

    /// Suspends for `duration` on ``clock``. - Throws: `CancellationError` when cancelled.
    public func sleep(for duration: Duration) async throws { try await sleep(until: now() + duration) }

    /// Starts `operation` in a new task with this environment's executor preference.
    ///
    /// The only way library code starts unstructured work: an unstructured task without the preference would escape a simulation.
    @discardableResult
    public func spawn<T: Sendable>(
        _ operation: sending @escaping @isolated(any) () async throws -> T
    ) -> Task<T, any Error> {
        Task(executorPreference: taskExecutor, operation: operation)
    }

    /// Runs `operation` to completion even when the calling task is cancelled, and returns its result.
    ///
    /// For clean-up that must reach the server after a cancellation (deleting a waiter key).
    public func uncancelled<T: Sendable>(
        _ operation: sending @escaping @isolated(any) () async throws -> T
    ) async throws -> T {
        try await spawn(operation).value
    }
}

/// Deliberate bugs the recipes can be told to commit, for testing the testers.
public struct RecipeMutations: OptionSet, Hashable, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// A session keeps its key name after an unlock's or resign's delete went unanswered, as etcd's recipe
    /// does (``Session/retireKeyName()`` does nothing): the delete can land late and take a later turn's key.
    public static let unguardedUnlock = RecipeMutations(rawValue: 1 << 0)
    /// `lock` skips re-reading its own key after the predecessor is gone.
    public static let noRecheck = RecipeMutations(rawValue: 1 << 1)
    /// `campaign` and `proclaim` write the leader key without the create-revision guard.
    public static let unguardedCampaign = RecipeMutations(rawValue: 1 << 2)

    /// Every mutation by its command-line name.
    public static let byName: [(name: String, mutation: RecipeMutations)] = [
        ("unguarded-unlock", .unguardedUnlock), ("no-recheck", .noRecheck),
        ("unguarded-campaign", .unguardedCampaign),
    ]
}

/// Reads and sleeps on an `any Clock<Duration>` through one origin instant.
private struct Timebase: Sendable {
    let now: @Sendable () -> Duration
    let sleepUntil: @Sendable (Duration) async throws -> Void

    init(_ clock: any Clock<Duration>) { self = Timebase.make(clock) }
    private init(
        now: @escaping @Sendable () -> Duration, sleepUntil: @escaping @Sendable (Duration) async throws -> Void
    ) {
        self.now = now
        self.sleepUntil = sleepUntil
    }

    private static func make<C: Clock<Duration>>(_ clock: C) -> Timebase {
        let origin = clock.now
        return Timebase(
            now: { origin.duration(to: clock.now) },
            sleepUntil: { deadline in try await clock.sleep(until: origin.advanced(by: deadline), tolerance: nil) }
        )
    }
}

/// A seeded, thread-safe source of random numbers (``SplitMix64`` behind a lock).
///
/// The same seed gives the same sequence. ``split(_:)`` derives an independent stream, so that drawing
/// more numbers in one part of a program does not shift another's.
public final class RandomSource: Sendable {
    private let state: Mutex<SplitMix64>
    /// The seed this source started from.
    public let seed: UInt64

    /// Creates a source with `seed`.
    public init(seed: UInt64) {
        self.seed = seed
        self.state = Mutex(SplitMix64(seed: seed))
    }

    /// Creates a source seeded from the system's entropy (production only).
    public convenience init() {
        var system = SystemRandomNumberGenerator()  // determinism: the production seed, injected
        self.init(seed: system.next())
    }

    /// The next 64 random bits.
    public func next() -> UInt64 { state.withLock { $0.next() } }

    /// A uniformly drawn integer in `range` (which must not be empty).
    public func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        if span == 0 { return Int(truncatingIfNeeded: next()) }
        return range.lowerBound + Int(next() % span)
    }

    /// A uniformly drawn duration in `range`, at nanosecond resolution.
    public func duration(in range: ClosedRange<Duration>) -> Duration {
        let low = range.lowerBound.nanoseconds, high = range.upperBound.nanoseconds
        guard high > low else { return range.lowerBound }
        return .nanoseconds(low + Int64(next() % UInt64(high - low + 1)))
    }

    /// Whether an event of probability `p` happens.
    public func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }

    /// An independent source derived from this one's seed and `label` (not from its position).
    public func split(_ label: String) -> RandomSource {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in label.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return RandomSource(seed: SplitMix64.mix(seed ^ h))
    }
}

/// SplitMix64 as a plain value: for one owner that needs no lock per draw (the simulator's scheduler
/// and network), and the state behind ``RandomSource``.
package struct SplitMix64: Sendable {
    private var state: UInt64
    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// A value in `0..<bound` (bound > 0), by Lemire's multiply-shift (bias below 2^-32 here).
    package mutating func next(below bound: Int) -> Int {
        Int(truncatingIfNeeded: (UInt128(next()) &* UInt128(bound)) >> 64)
    }

    /// SplitMix64's finaliser: a bijective mix of 64 bits.
    package static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    public var nanoseconds: Int64 {
        let (s, atto) = components
        return s.multipliedReportingOverflow(by: 1_000_000_000).overflow
            ? (s < 0 ? .min : .max) : s * 1_000_000_000 + atto / 1_000_000_000
    }
}

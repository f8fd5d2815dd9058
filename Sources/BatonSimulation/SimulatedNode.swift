import Baton

/// One incarnation of a simulated client machine: its own executors, clock (possibly drifting),
/// environment and connection to the server.
///
/// Everything the node's code does — Baton's keep-alives and watches, the user's own tasks started
/// with ``spawn(_:)`` — runs on the node's executors, so pausing or crashing the node pauses or
/// freezes all of it. A restart makes a new incarnation with fresh executors.
public final class SimulatedNode: Sendable {
    /// The node's name, e.g. `c1`; stable across restarts.
    public let name: String
    /// 1 for the first incarnation, then 2, 3… after each restart.
    public let incarnation: Int
    /// The scheduler's index for this incarnation.
    public let index: Int32
    /// The node's environment: simulated clock, the node's task executor, a seeded random source
    /// split for this incarnation, the trace as event sink, and the run's recipe mutations.
    public let environment: BatonEnvironment
    /// The node's clock.
    public let clock: SimulatedClock
    /// The node's connection to the simulated server.
    public let backend: SimulatedBackend
    /// The node's task executor.
    public let taskExecutor: NodeExecutor
    /// A Baton client over ``backend`` and ``environment``: sessions, mutexes and elections of this
    /// incarnation. Close its sessions (or the client) before the program returns.
    public let client: BatonClient
    private let world: SimulationWorld

    init(
        name: String, incarnation: Int, index: Int32, environment: BatonEnvironment, clock: SimulatedClock,
        backend: SimulatedBackend, taskExecutor: NodeExecutor, world: SimulationWorld
    ) {
        self.name = name
        self.incarnation = incarnation
        self.index = index
        self.environment = environment
        self.clock = clock
        self.backend = backend
        self.taskExecutor = taskExecutor
        self.client = BatonClient(backend: backend, environment: environment)
        self.world = world
    }

    /// `name#incarnation`, e.g. `c1#2`: how traces and oracles name this incarnation.
    public var label: String { "\(name)#\(incarnation)" }

    /// The node's local time since the simulation started.
    public var now: Duration { clock.now.offset }

    /// Sleeps on the node's clock. - Throws: `CancellationError` when cancelled.
    public func sleep(for duration: Duration) async throws {
        try await clock.sleep(until: clock.now.advanced(by: duration))
    }

    /// Starts `operation` in a task on this node.
    @discardableResult
    public func spawn<T: Sendable>(_ operation: sending @escaping @isolated(any) () async throws -> T) -> Task<
        T, any Error
    > {
        environment.spawn(operation)
    }

    /// Writes a line to the trace, prefixed with the node's label.
    public func note(_ text: String) { world.trace.note("\(label): \(text)") }
}

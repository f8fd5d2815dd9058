import Baton
import BatonCore

/// Everything a simulation body works with: the server, client nodes running programs, fault
/// controls, the fenced resources and the oracles.
///
/// The body runs on a control node that faults never touch. Client programs run on their own nodes;
/// a crashed node's program is frozen forever, and a restarted node runs its program again as a new
/// incarnation. Every method must be called from the simulation's own tasks (they all are).
// @unchecked Sendable: driver-confined: touched only by jobs and timers of one simulation
public final class SimulationWorld: @unchecked Sendable {
    /// A client node's name, its program and the state of its current incarnation.
    final class NodeRecord: @unchecked Sendable {  // driver-confined like the world that owns it
        enum State { case running, finished, crashed }
        let name: String
        let program: (@Sendable (SimulatedNode) async throws -> Void)?
        let ratePPM: Int64
        var current: SimulatedNode?
        var state = State.running
        var incarnations = 0
        var pauses = 0
        var blockedTo = 0, blockedFrom = 0
        init(name: String, program: (@Sendable (SimulatedNode) async throws -> Void)?, ratePPM: Int64) {
            self.name = name
            self.program = program
            self.ratePPM = ratePPM
        }
    }

    /// The run's seed.
    public let seed: UInt64
    /// The options the run was started with.
    public let options: SimulationOptions
    /// The workload's random stream (independent of scheduling, network and fault streams).
    public let random: RandomSource
    /// The control node's clock (rate 1: global virtual time).
    public let clock: SimulatedClock
    /// The run's trace.
    public let trace: Trace
    /// The run's oracles.
    public let oracles: Oracles

    let scheduler: Scheduler
    let server: SimulatedServer
    let network: SimulatedNetwork
    let control: Int32
    let controlExecutor: NodeExecutor
    private let nodeRandom: RandomSource
    var records: [String: NodeRecord] = [:]
    var recordOrder: [String] = []
    var resources: [String: FencedResource] = [:]
    var faultTimers: [ActionTimer] = []
    var serverPauses = 0
    var activeLoss: [Int] = [], activeDelay: [Duration] = [], activeStall: [Int] = []
    var rootDone = false
    var historyTask: Task<Void, Never>?
    private var programWaiter: (continuation: UnsafeContinuation<[String], Never>, timer: ActionTimer?)?

    init(seed: UInt64, options: SimulationOptions) {
        self.seed = seed
        self.options = options
        let root = RandomSource(seed: seed)
        random = root.split("workload")
        nodeRandom = root.split("nodes")
        let policy = root.split("scheduling-policy").int(in: 0...3)
        scheduler = Scheduler(
            seed: root.split("scheduling").seed, newestBias: options.newestBias ?? [0, 0, 0.5, 0.9][policy])
        trace = Trace(scheduler: scheduler, recording: options.recordTrace)
        oracles = Oracles(scheduler: scheduler, trace: trace)
        let serverNode = scheduler.addNode(name: "server")
        let trace = self.trace
        server = SimulatedServer(
            scheduler: scheduler, node: serverNode, events: EventSink { trace.note("server: \($0)") },
            random: root.split("server"))
        network = SimulatedNetwork(
            scheduler: scheduler, trace: trace, server: server, conditions: options.network,
            seed: root.split("network").seed)
        control = scheduler.addNode(name: "control")
        controlExecutor = scheduler.makeExecutor(node: control, serial: false)
        clock = SimulatedClock(scheduler: scheduler, node: control)
        let oracles = self.oracles, server = self.server
        oracles.leaseAlive = { server.ledger.isAlive($0, now: server.now) }
        oracles.serverRevision = { server.highestRevision }
        server.onExpiredVisible = { kv in
            oracles.fail(
                "expired-lease-visible",
                "key \(kv.key)@\(kv.createRevision) of expired lease \(kv.lease.map(\.description) ?? "-") was visible in a response"
            )
        }
    }

    /// Global virtual time since the simulation started.
    public var now: Duration { scheduler.now }

    /// Sleeps on the control clock. - Throws: `CancellationError` when cancelled.
    public func sleep(for duration: Duration) async throws {
        try await clock.sleep(until: clock.now.advanced(by: duration))
    }

    /// Sleeps until global time `instant`. - Throws: `CancellationError` when cancelled.
    public func sleep(until instant: Duration) async throws {
        try await clock.sleep(until: SimulatedClock.Instant(offset: instant))
    }

    /// Writes a line to the trace.
    public func note(_ text: String) { trace.note(text) }

    // MARK: Nodes

    /// Adds a client node named `name` (not `server`) and starts `program` on it; the program runs
    /// again, on a new incarnation, each time the node restarts. The node's clock runs at the fault
    /// plan's drift rate for it, if any.
    @discardableResult
    public func addClient(_ name: String, program: @escaping @Sendable (SimulatedNode) async throws -> Void)
        -> SimulatedNode
    {
        precondition(records[name] == nil && name != "server" && name != "control", "node name \(name) is taken")
        let record = NodeRecord(name: name, program: program, ratePPM: options.faultPlan.ratePPM(of: name))
        records[name] = record
        recordOrder.append(name)
        startIncarnation(record)
        return record.current!
    }

    /// The current incarnation of client `name`, if it exists.
    public func node(_ name: String) -> SimulatedNode? { records[name]?.current }

    /// The names of every client node, in the order they were added.
    public var clientNames: [String] { recordOrder }

    func startIncarnation(_ record: NodeRecord) {
        record.incarnations += 1
        let label = "\(record.name)#\(record.incarnations)"
        let index = scheduler.addNode(name: label)
        let taskExecutor = scheduler.makeExecutor(node: index, serial: false)
        let clock = SimulatedClock(scheduler: scheduler, node: index, ratePPM: record.ratePPM)
        let trace = self.trace
        let environment = BatonEnvironment(
            clock: clock, taskExecutor: taskExecutor, random: nodeRandom.split(label),
            events: EventSink { trace.note("\(label): \($0)") }, mutations: options.mutations)
        let backend = SimulatedBackend(
            network: network,
            endpoint: ClientEndpoint(name: record.name, link: network.link(for: record.name), node: index, clock: clock)
        )
        let node = SimulatedNode(
            name: record.name, incarnation: record.incarnations, index: index, environment: environment, clock: clock,
            backend: backend, taskExecutor: taskExecutor, world: self)
        record.current = node
        record.state = .running
        trace.note("\(label) started")
        guard let program = record.program else { return }
        Task(executorPreference: taskExecutor) { [self] in
            do {
                try await program(node)
            } catch {
                oracles.fail("program", "\(label) program threw \(error)")
            }
            programEnded(record, incarnation: node.incarnation)
        }
    }

    private func programEnded(_ record: NodeRecord, incarnation: Int) {
        guard record.incarnations == incarnation, record.state == .running else { return }
        record.state = .finished
        trace.note("\(record.name)#\(incarnation) program finished")
        checkPrograms()
    }

    /// Programs of live incarnations that have not finished, sorted.
    public var unfinishedPrograms: [String] {
        recordOrder.compactMap { name in records[name]!.state == .running ? records[name]!.current?.label : nil }
    }

    func checkPrograms() {
        guard let waiter = programWaiter, unfinishedPrograms.isEmpty else { return }
        programWaiter = nil
        waiter.timer?.cancel()
        waiter.continuation.resume(returning: [])
    }

    /// Waits until every client's current incarnation has finished its program or crashed, or until
    /// `limit` passes; returns the labels of the programs still running (empty on success).
    /// Only one caller may wait at a time.
    public func waitForPrograms(within limit: Duration? = nil) async -> [String] {
        await withUnsafeContinuation { continuation in
            precondition(programWaiter == nil, "only one waitForPrograms at a time")
            if unfinishedPrograms.isEmpty { return continuation.resume(returning: []) }
            let timer = limit.map { limit in
                scheduler.after(limit, node: control) { [self] in
                    guard let waiter = programWaiter else { return }
                    programWaiter = nil
                    waiter.continuation.resume(returning: unfinishedPrograms)
                }
            }
            programWaiter = (continuation, timer)
        }
    }

    // MARK: Resources and the server

    /// The fenced resource named `name` (created on first use).
    public func resource(_ name: String) -> FencedResource {
        if let existing = resources[name] { return existing }
        let created = FencedResource(
            name: name, world: self, seed: RandomSource(seed: seed).split("resource/\(name)").seed)
        resources[name] = created
        return created
    }

    /// Reads the server's store directly (no network, no faults): for end-of-run checks.
    public func serverRange(_ request: RangeRequest) async throws -> RangeResponse {
        try await server.store.range(request)
    }

    /// The server's current revision, read directly.
    public func serverRevision() async -> Int64 { await server.store.revision }
}

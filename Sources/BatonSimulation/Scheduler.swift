import Baton
import Synchronization

/// The seeded scheduler at the heart of a simulation: every job of every simulated node, every timer
/// and the virtual time.
///
/// Each node (incarnation) has a pair of ``NodeExecutor``s whose `enqueue` only records the job here.
/// ``drive(setup:until:timeLimit:jobLimit:)`` runs on one thread: it picks the next ready job with a seeded
/// generator and runs it, and only when nothing is runnable advances virtual time to the earliest live
/// timer (timers are ordered by deadline then insertion order; time never goes backwards) and fires
/// every timer due at that instant. The same seed and the same program give the same sequence of jobs.
///
/// A paused node's jobs are held and released when it resumes; a crashed node's jobs are frozen
/// forever (its tasks are never cancelled: cancelling would run clean-up a real crash never runs).
/// Jobs that arrive from another thread, or while no driver runs, escaped the simulation: they are
/// counted in ``foreignJobs`` and still run, so a run can report them instead of hanging.
public final class Scheduler: @unchecked Sendable {  // driver-confined state; foreign entry points go through `inbox`
    /// A node's scheduling state.
    public enum NodeState: Sendable, Equatable { case running, paused, crashed }

    struct ReadyJob {
        let job: UnownedJob
        let slot: Int32
    }

    struct Slot {
        let node: Int32
        let executor: NodeExecutor
        let serial: UnownedSerialExecutor?
        let task: UnownedTaskExecutor
    }

    struct Node {
        var name: String
        var state: NodeState = .running
        var held: [ReadyJob] = []
        var frozen = 0
        var jobs = 0
        var taskExecutor: NodeExecutor?
    }

    // @unchecked Sendable: handed to the driver thread whole; only the driver touches it afterwards
    private enum Foreign: @unchecked Sendable {
        case job(ReadyJob)
        case timer(deadline: Int64, node: Int32, target: any TimerTarget)
    }

    private var ready: [ReadyJob] = []
    private var slots: [Slot] = []
    private var nodes: [Node] = []
    private var timers = TimerQueue()
    private var timerSequence: UInt64 = 0
    private var random: SplitMix64
    private let clockNanos = Atomic<Int64>(0)
    private var driver = DriverIdentity.none
    private var runningSlot: Int32 = -1
    private let inbox = Mutex<[Foreign]>([])
    private let inboxCount = Atomic<Int>(0)
    private let foreign = Atomic<Int>(0)

    /// How many jobs ran.
    public private(set) var jobsRun = 0
    /// A running hash of which node ran each job and when each timer fired: equal for equal runs.
    public private(set) var scheduleHash: UInt64 = 0xcbf2_9ce4_8422_2325

    /// The probability that a pick takes the most recently readied job instead of a uniformly drawn
    /// one: 0 explores interleavings uniformly; near 1 runs depth-first, resuming whatever was just
    /// woken (which wins different races).
    public let newestBias: Double
    private let newestThreshold: UInt64

    /// Creates a scheduler whose choices are drawn from `seed` (the simulation's scheduling stream).
    public init(seed: UInt64, newestBias: Double = 0) {
        random = SplitMix64(seed: seed)
        self.newestBias = newestBias
        newestThreshold = UInt64(max(0, min(1, newestBias)) * Double(UInt64.max >> 11)) << 11
    }

    // MARK: Time

    /// The global virtual time in nanoseconds since the simulation started.
    public var nowNanoseconds: Int64 { clockNanos.load(ordering: .relaxed) }
    /// The global virtual time since the simulation started.
    public var now: Duration { .nanoseconds(nowNanoseconds) }

    // MARK: Nodes

    /// Adds a node (one incarnation of a simulated machine) and returns its index.
    public func addNode(name: String) -> Int32 {
        precondition(driver == .none || driver.isCurrent, "nodes are added on the driver thread")
        nodes.append(Node(name: name))
        return Int32(nodes.count - 1)
    }

    /// Makes a new executor for `node`: a serial executor (for actors isolated to the node) or a task
    /// executor (for the node's tasks).
    func makeExecutor(node: Int32, serial: Bool) -> NodeExecutor {
        let slot = Int32(slots.count)
        let executor = NodeExecutor(scheduler: self, slot: slot, node: node, isSerial: serial)
        let task = serial ? nodes[Int(node)].taskExecutor ?? executor : executor
        slots.append(
            Slot(
                node: node, executor: executor,
                serial: serial ? executor.asUnownedSerialExecutor() : nil,
                task: task.asUnownedTaskExecutor()))
        if !serial, nodes[Int(node)].taskExecutor == nil { nodes[Int(node)].taskExecutor = executor }
        return executor
    }

    /// The name a node was added with.
    public func name(of node: Int32) -> String { nodes[Int(node)].name }
    /// A node's scheduling state.
    public func state(of node: Int32) -> NodeState { nodes[Int(node)].state }
    /// How many jobs of `node` ran.
    public func jobs(of node: Int32) -> Int { nodes[Int(node)].jobs }
    /// How many jobs of a crashed `node` are frozen.
    public func frozenJobs(of node: Int32) -> Int { nodes[Int(node)].frozen }
    /// How many nodes (incarnations) were added.
    public var nodeCount: Int { nodes.count }

    /// Holds every job of `node` until ``resume(_:)``.
    public func pause(_ node: Int32) {
        guard nodes[Int(node)].state == .running else { return }
        nodes[Int(node)].state = .paused
        var kept: [ReadyJob] = []
        kept.reserveCapacity(ready.count)
        for entry in ready {
            if slots[Int(entry.slot)].node == node { nodes[Int(node)].held.append(entry) } else { kept.append(entry) }
        }
        ready = kept
    }

    /// Releases a paused node's held jobs, in the order they arrived.
    public func resume(_ node: Int32) {
        guard nodes[Int(node)].state == .paused else { return }
        nodes[Int(node)].state = .running
        ready.append(contentsOf: nodes[Int(node)].held)
        nodes[Int(node)].held.removeAll()
    }

    /// Freezes every job of `node`, present and future, forever.
    public func crash(_ node: Int32) {
        let index = Int(node)
        guard nodes[index].state != .crashed else { return }
        if nodes[index].state == .running { pause(node) }
        nodes[index].state = .crashed
        nodes[index].frozen += nodes[index].held.count
        nodes[index].held.removeAll()
    }

    // MARK: Jobs

    /// Jobs that arrived from another thread or while no driver ran. Must be 0.
    public var foreignJobs: Int { foreign.load(ordering: .relaxed) }

    /// Records a job sent to the executor in `slot`.
    func enqueue(_ job: UnownedJob, slot: Int32) {
        let entry = ReadyJob(job: job, slot: slot)
        guard driver.isCurrent else {
            foreign.add(1, ordering: .relaxed)
            inbox.withLock { $0.append(.job(entry)) }
            inboxCount.add(1, ordering: .releasing)
            return
        }
        place(entry)
    }

    private func place(_ entry: ReadyJob) {
        let node = Int(slots[Int(entry.slot)].node)
        switch nodes[node].state {
        case .running: ready.append(entry)
        case .paused: nodes[node].held.append(entry)
        case .crashed: nodes[node].frozen += 1
        }
    }

    /// Whether the caller runs on the driver; if not, counts it as something that escaped.
    func checkDriver() -> Bool {
        if driver.isCurrent { return true }
        foreign.add(1, ordering: .relaxed)
        return false
    }

    /// Whether the job running now is on the executor in `slot`.
    func isRunning(slot: Int32) -> Bool { driver.isCurrent && runningSlot == slot }

    // MARK: Timers

    /// Schedules `target` to fire at global time `deadline` (nanoseconds; a past deadline fires at the
    /// next idle instant). `node` is who the timer belongs to.
    func schedule(at deadline: Int64, node: Int32, _ target: any TimerTarget) {
        guard driver.isCurrent else {
            foreign.add(1, ordering: .relaxed)
            inbox.withLock { $0.append(.timer(deadline: deadline, node: node, target: target)) }
            inboxCount.add(1, ordering: .releasing)
            return
        }
        timerSequence += 1
        timers.push(
            TimerEntry(deadline: max(deadline, nowNanoseconds), sequence: timerSequence, node: node, target: target))
    }

    /// Runs `action` on the driver thread at `now + delay` unless the returned timer is cancelled.
    @discardableResult
    func after(_ delay: Duration, node: Int32, _ action: @escaping () -> Void) -> ActionTimer {
        let timer = ActionTimer(action)
        schedule(at: nowNanoseconds &+ max(0, delay.nanoseconds), node: node, timer)
        return timer
    }

    /// Suspends the calling task until global time `deadline` (nanoseconds).
    /// - Throws: `CancellationError` promptly when the task is cancelled.
    func sleep(untilNanoseconds deadline: Int64, node: Int32) async throws {
        let timer = SleepTimer()
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                if timer.install(continuation) { schedule(at: deadline, node: node, timer) }
            }
        } onCancel: {
            timer.cancel()
        }
    }

    // MARK: Driving

    /// Why ``drive(setup:until:timeLimit:jobLimit:)`` returned.
    public enum Stop: Sendable, Equatable {
        /// The `until` condition became true.
        case finished
        /// Nothing is runnable and no timer is pending: whatever still waits will wait forever.
        case quiescent
        /// Virtual time passed the limit.
        case timeLimit
        /// More jobs ran than the limit allows (a livelock at one instant, or a runaway loop).
        case jobLimit
    }

    /// Runs jobs and fires timers on the calling thread until `until()` is true, nothing is left to
    /// do, or a limit is hit. `setup` runs first, on the driver thread (start the first tasks there:
    /// jobs enqueued while no driver runs count as foreign). `timeLimit` is a global time.
    public func drive(
        setup: () -> Void = {}, until: () -> Bool, timeLimit: Duration = .seconds(86_400), jobLimit: Int = 200_000_000
    ) -> Stop {
        let previous = driver
        driver = DriverIdentity.current
        defer { driver = previous }
        setup()
        let limit = timeLimit.nanoseconds
        while true {
            if inboxCount.load(ordering: .acquiring) > 0 { drainInbox() }
            if until() { return .finished }
            if !ready.isEmpty {
                let index =
                    ready.count == 1
                    ? 0
                    : newestThreshold > 0 && random.next() < newestThreshold
                        ? ready.count - 1
                        : random.next(below: ready.count)
                let entry = ready[index]
                ready[index] = ready[ready.count - 1]
                ready.removeLast()
                run(entry)
                if jobsRun >= jobLimit { return .jobLimit }
                continue
            }
            guard fireNextTimers() else { return .quiescent }
            if nowNanoseconds > limit { return .timeLimit }
        }
    }

    private func run(_ entry: ReadyJob) {
        let slot = slots[Int(entry.slot)]
        jobsRun += 1
        nodes[Int(slot.node)].jobs += 1
        scheduleHash = (scheduleHash ^ UInt64(UInt32(bitPattern: entry.slot))) &* 0x100_0000_01b3
        runningSlot = entry.slot
        if let serial = slot.serial {
            entry.job.runSynchronously(isolatedTo: serial, taskExecutor: slot.task)
        } else {
            entry.job.runSynchronously(on: slot.task)
        }
        runningSlot = -1
    }

    /// Advances time to the earliest live timer and fires every live timer due then. False if none.
    private func fireNextTimers() -> Bool {
        while let top = timers.first, !top.target.isLive { timers.pop() }
        guard let first = timers.first else { return false }
        if first.deadline > nowNanoseconds { clockNanos.store(first.deadline, ordering: .relaxed) }
        let now = nowNanoseconds
        scheduleHash = (scheduleHash ^ UInt64(bitPattern: now)) &* 0x100_0000_01b3
        while let top = timers.first, top.deadline <= now {
            timers.pop()
            if top.target.isLive { top.target.fire() }
        }
        return true
    }

    private func drainInbox() {
        let items = inbox.withLock { items in
            defer { items.removeAll() }
            return items
        }
        inboxCount.subtract(items.count, ordering: .relaxed)
        for item in items {
            switch item {
            case .job(let entry): place(entry)
            case .timer(let deadline, let node, let target): schedule(at: deadline, node: node, target)
            }
        }
    }

    // MARK: Accounting

    /// Live timers, held jobs and ready jobs per node that is not crashed: what would still run.
    public func pendingWork() -> [(node: Int32, timers: Int, jobs: Int)] {
        var timersByNode = [Int](repeating: 0, count: nodes.count)
        for entry in timers.live where entry.node >= 0 { timersByNode[Int(entry.node)] += 1 }
        var jobsByNode = [Int](repeating: 0, count: nodes.count)
        for entry in ready { jobsByNode[Int(slots[Int(entry.slot)].node)] += 1 }
        var result: [(node: Int32, timers: Int, jobs: Int)] = []
        for index in nodes.indices where nodes[index].state != .crashed {
            let jobs = jobsByNode[index] + nodes[index].held.count
            if timersByNode[index] > 0 || jobs > 0 { result.append((Int32(index), timersByNode[index], jobs)) }
        }
        return result
    }

    /// Drops every reference to executors, jobs and timers, so a finished simulation can be freed.
    /// Frozen and unfinished tasks stay suspended forever.
    public func shutdown() {
        ready.removeAll()
        timers.removeAll()
        for index in nodes.indices { nodes[index].held.removeAll(); nodes[index].taskExecutor = nil }
        slots.removeAll()
    }
}

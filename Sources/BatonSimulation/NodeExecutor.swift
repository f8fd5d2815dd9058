/// One executor of a simulated node: a `SerialExecutor` (for actors isolated to the node) and a
/// `TaskExecutor` (for the node's tasks) whose `enqueue` only records the job with the ``Scheduler``.
///
/// Each node incarnation has a pair: one in the serial role, one in the task role. A restarted node
/// gets a fresh pair, so jobs of the old incarnation stay frozen and are told apart.
// @unchecked Sendable: immutable after init; enqueue forwards to the thread-checked scheduler
public final class NodeExecutor: SerialExecutor, TaskExecutor, @unchecked Sendable {
    private let scheduler: Scheduler
    private let slot: Int32
    /// The scheduler node this executor belongs to.
    public let node: Int32
    /// Whether this is the node's serial (actor) executor rather than its task executor.
    public let isSerial: Bool

    init(scheduler: Scheduler, slot: Int32, node: Int32, isSerial: Bool) {
        self.scheduler = scheduler
        self.slot = slot
        self.node = node
        self.isSerial = isSerial
    }

    /// Records the job with the scheduler; it runs when the driver picks it.
    public func enqueue(_ job: consuming ExecutorJob) {
        scheduler.enqueue(UnownedJob(job), slot: slot)
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Whether the driver is running one of this executor's jobs right now.
    public func isIsolatingCurrentContext() -> Bool? { scheduler.isRunning(slot: slot) }

    public func checkIsolated() {
        precondition(scheduler.isRunning(slot: slot), "not running on simulated node executor \(slot)")
    }
}

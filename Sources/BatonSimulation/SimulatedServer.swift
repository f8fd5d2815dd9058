import Baton
import BatonCore

/// The server node: a ``LocalStore`` isolated to the node's serial executor, fed by a dispatcher task
/// that runs each arriving request inside one actor job.
///
/// Handlers are synchronous functions of the isolated store, so the oracle's bookkeeping (the lease
/// ledger, the expired-lease check) happens in the same job, at the same instant, as the request.
// @unchecked Sendable: driver-confined: touched only by jobs and timers of one simulation
final class SimulatedServer: @unchecked Sendable {
    /// A request waiting for the dispatcher.
    typealias Request = @Sendable (isolated LocalStore) -> Void

    let node: Int32
    let environment: BatonEnvironment
    let store: LocalStore
    let taskExecutor: NodeExecutor
    private let scheduler: Scheduler
    private var queue: [Request] = []
    private var head = 0
    private var waiter: UnsafeContinuation<Void, Never>?
    private var closed = false
    private var dispatcher: Task<Void, Never>?
    /// The oracles' model of leases, fed by the handlers.
    var ledger = LeaseLedger()
    /// The highest revision any response carried (what clients can have seen so far).
    private(set) var highestRevision: Int64 = 0
    /// Called with every visible key of an expired lease.
    var onExpiredVisible: (KeyValue) -> Void = { _ in }

    init(scheduler: Scheduler, node: Int32, events: EventSink, random: RandomSource) {
        self.scheduler = scheduler
        self.node = node
        taskExecutor = scheduler.makeExecutor(node: node, serial: false)
        let serial = scheduler.makeExecutor(node: node, serial: true)
        environment = BatonEnvironment(
            clock: SimulatedClock(scheduler: scheduler, node: node), taskExecutor: taskExecutor,
            random: random, events: events)
        store = LocalStore(environment: environment, executor: serial)
    }

    /// Starts the dispatcher. Call on the driver thread.
    func start() {
        let store = self.store
        dispatcher = Task(executorPreference: taskExecutor) { [self] in await serve(store) }
    }

    /// The server's clock in global nanoseconds (its rate is always 1).
    var now: Int64 { scheduler.nowNanoseconds }

    /// Queues a request and wakes the dispatcher.
    func deliver(_ request: @escaping Request) {
        guard !closed else { return }
        queue.append(request)
        if let waiter {
            self.waiter = nil
            waiter.resume()
        }
    }

    /// Stops the dispatcher once the queue is empty.
    func close() {
        closed = true
        if let waiter {
            self.waiter = nil
            waiter.resume()
        }
    }

    private func serve(_ store: isolated LocalStore) async {
        while true {
            while head < queue.count {
                let request = queue[head]
                head += 1
                request(store)
            }
            queue.removeAll(keepingCapacity: true)
            head = 0
            if closed { return }
            await withUnsafeContinuation { waiter = $0 }
        }
    }

    /// Notes a revision a response carries.
    func answered(at revision: Int64) { highestRevision = max(highestRevision, revision) }

    /// Checks keys a response makes visible: none may belong to an expired or revoked lease.
    func checkVisible(_ kvs: [KeyValue]) {
        guard !kvs.isEmpty else { return }
        for kv in ledger.violations(in: kvs, now: now) { onExpiredVisible(kv) }
    }

    /// Checks every range result inside a transaction response.
    func checkVisible(_ response: TxnResponse) {
        for op in response.responses {
            switch op {
            case .range(let range): checkVisible(range.kvs)
            case .txn(let nested): checkVisible(nested)
            case .put, .deleteRange: break
            }
        }
    }
}

@_spi(BatonInternals) import BatonCore
import Synchronization

/// An in-memory etcd: an actor owning a ``StoreMachine`` (MVCC keyspace, lease table, watches), with
/// leases that expire on the environment's clock.
///
/// The `local:` backend, and the server of a simulation. Everything etcd does that the recipes rely on
/// behaves the same here: revisions, transactions, lease revoke and expiry deleting keys in one
/// revision, watches from a past revision, compaction.
///
/// Expired leases are removed both by a timer on the injected clock (so watchers learn promptly) and
/// before every request (so no key of an expired lease is ever visible, even when the timer is late).
/// History older than `historyRetention` revisions is compacted automatically, as etcd's
/// auto-compaction does.
///
/// A session on this store does not renew its lease by requests: the store keeps it alive (pinned,
/// out of the expiry order) for as long as the session lives, and tells the session when the lease
/// is revoked. Orphaning the session unpins the lease, which then expires a TTL later.
public actor LocalStore: Backend {
    private var machine = StoreMachine()
    private let environment: BatonEnvironment
    private let historyRetention: Int64
    /// The open watch streams, by watch ID. (Watch IDs, wait IDs and the store's own lease IDs all
    /// count up, so these tables are arrays indexed by ID: a queue of waiters worked through in order
    /// reads them in order.)
    private var watchers = IDTable<WatchStream.Continuation>()
    /// Waiters suspended in ``waitUntilGone(_:tag:interrupted:)``, by wait ID, and the wait each of
    /// their watches belongs to.
    private var goneWaits = IDTable<GoneWait>()
    private var goneWaitOfWatch = IDTable<Int64>()
    /// The waits registered under each tag (a session's lease), in registration order.
    private var goneWaitsOfTag = IDTable<[Int64]>()
    private var nextGoneWait: Int64 = 0
    /// The sessions keeping leases alive in process: what to call when each lease ends otherwise.
    private var leaseKeepers: [LeaseID: @Sendable () -> Void] = [:]
    /// Keepers that stopped (``stopKeepingLeaseAlive(_:since:)`` is synchronous), with when, for
    /// the next request to apply; the count lets requests skip the lock when there are none.
    private nonisolated let stoppedKeepers = Mutex<[(lease: LeaseID, since: Duration)]>([])
    private nonisolated let stoppedKeeperCount = Atomic<Int>(0)
    private var expiryTimer: (deadline: Duration, task: Task<Void, any Error>)?
    /// The machine's earliest lease expiry as of the last ``settle()``: every lease change settles.
    private var nextExpiry: Duration?
    private var closed = false

    /// The executor this actor runs on: a given serial executor (a simulated server node) or its own.
    private let anchor: ExecutorAnchor
    private let executor: (any SerialExecutor)?
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor?.asUnownedSerialExecutor() ?? anchor.unownedExecutor
    }

    /// Creates an empty store at revision 1.
    ///
    /// - Parameters:
    ///   - environment: the clock leases expire on and the executor preference of the expiry timer.
    ///   - executor: the serial executor to isolate the store to (a simulation's server node); `nil`
    ///     for an ordinary actor.
    ///   - historyRetention: how many past revisions stay readable and watchable.
    public init(
        environment: BatonEnvironment = BatonEnvironment(), executor: (any SerialExecutor)? = nil,
        historyRetention: Int64 = 10_000
    ) {
        self.environment = environment
        self.executor = executor
        self.anchor = ExecutorAnchor()
        self.historyRetention = max(1, historyRetention)
    }

    /// The current revision.
    public var revision: Int64 { machine.revision }

    /// True: requests are synchronous actor methods that never observe cancellation.
    public nonisolated var completesCancelledRequests: Bool { true }

    public func range(_ request: RangeRequest) throws -> RangeResponse {
        try prepare()
        return try machine.range(request)
    }

    public func put(_ request: PutRequest) throws -> PutResponse {
        try prepare()
        defer { settle() }
        return try machine.put(request)
    }

    public func deleteRange(_ request: DeleteRangeRequest) throws -> DeleteRangeResponse {
        try prepare()
        defer { settle() }
        return try machine.deleteRange(request)
    }

    public func txn(_ request: TxnRequest) throws -> TxnResponse {
        try prepare()
        defer { settle() }
        return try machine.txn(request)
    }

    public func compact(revision: Int64) throws {
        try prepare()
        try machine.compact(revision: revision)
    }

    public func grantLease(ttl: Int64, id: LeaseID?) throws -> LeaseGrant {
        try prepare()
        defer { settle() }
        return try machine.grantLease(ttl: ttl, id: id, now: environment.now())
    }

    public func keepAliveLease(_ id: LeaseID) throws -> Int64 {
        try prepare()
        defer { settle() }
        return try machine.keepAliveLease(id, now: environment.now())
    }

    public func revokeLease(_ id: LeaseID) throws {
        try prepare()
        defer { settle() }
        _ = try machine.revokeLease(id)
        leasesEnded([id])
    }

    public nonisolated var keepsLeasesInProcess: Bool { true }

    /// Pins the lease: it stops expiring until its keeper stops.
    public func keepLeaseAlive(_ lease: LeaseID, onEnd: @escaping @Sendable () -> Void) throws {
        try prepare()
        defer { settle() }
        try machine.pinLease(lease, now: environment.now())
        leaseKeepers[lease] = onEnd
    }

    public nonisolated func stopKeepingLeaseAlive(_ lease: LeaseID, since: Duration) {
        stoppedKeepers.withLock { $0.append((lease, since)) }
        stoppedKeeperCount.add(1, ordering: .releasing)
        // Requests apply it first; this applies it (and arms the expiry timer) when none come.
        environment.spawn { await self.applyStoppedKeepers() }
    }

    /// Unpins the leases whose keepers stopped, each expiring a TTL after its keeper stopped.
    private func applyStoppedKeepers() {
        guard stoppedKeeperCount.load(ordering: .acquiring) > 0 else { return }
        let stopped = stoppedKeepers.withLock { stopped in
            defer { stopped.removeAll() }
            return stopped
        }
        stoppedKeeperCount.subtract(stopped.count, ordering: .relaxed)
        for (lease, since) in stopped {
            leaseKeepers[lease] = nil
            if !closed { machine.unpinLease(lease, since: since) }
        }
        if !closed { settle() }
    }

    /// Tells the keepers of leases that ended (revoked or expired) that they are gone.
    private func leasesEnded(_ leases: [LeaseID]) {
        for lease in leases {
            leaseKeepers.removeValue(forKey: lease)?()
        }
    }

    public func leaseTimeToLive(_ id: LeaseID, keys: Bool) throws -> LeaseTimeToLive {
        try prepare()
        return try machine.leaseTimeToLive(id, keys: keys, now: environment.now())
    }

    public func watch(_ request: WatchRequest) throws -> WatchStream {
        try watchWithRevision(request).events
    }

    /// A watch from now delivers every event after the current revision, which is returned with it.
    public func watchWithRevision(_ request: WatchRequest) throws -> (events: WatchStream, revision: Int64?) {
        try prepare()
        let current = machine.revision
        let (id, catchUp) = try machine.watch(request)
        let (stream, continuation) = WatchStream.makeStream()
        for response in catchUp { continuation.yield(response) }
        watchers.insert(continuation, for: id.rawValue)
        let environment = self.environment
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            environment.spawn { await self.cancelWatch(id) }
        }
        return (stream, request.startRevision.map { $0 > 0 ? $0 - 1 : current } ?? current)
    }

    public nonisolated var waitsInProcess: Bool { true }

    /// Registers a watch per generation (from now, so the write that removes one resumes the waiter
    /// directly) unless one is gone already.
    public func waitUntilGone(
        _ generations: [KeyGeneration], tag: LeaseID, interrupted: @escaping @Sendable () -> BatonError?
    ) async throws -> (index: Int, revision: Int64) {
        try await suspend(.untilGone(generations), tag: tag, interrupted: interrupted)
    }

    /// Watches the key ahead of `own` and, each time it goes, finds the next one ahead in the same
    /// actor turn as the write that removed it, so a waiter resumes only once it is first.
    public func waitForTurn(
        _ own: KeyGeneration, under prefix: Key, tag: LeaseID, interrupted: @escaping @Sendable () -> BatonError?
    ) async throws -> (owns: Bool, revision: Int64) {
        // A turn's wait ends with index 0 when the key ahead went and none is left, 1 when the own key went.
        let end = try await suspend(.turn(own, under: prefix), tag: tag, interrupted: interrupted)
        return (end.index == 0, end.revision)
    }

    /// What a waiter waits for.
    private enum WaitTarget {
        /// Any of these generations to go.
        case untilGone([KeyGeneration])
        /// Every key created under the prefix before the own one to go (or the own key itself).
        case turn(KeyGeneration, under: Key)
    }

    /// Suspends the caller until its wait is over: at once when it already is, else when
    /// ``deliver(_:toWaitOf:)`` or an interruption ends it.
    ///
    /// Everything but the suspension happens out of line in ``begin(_:_:tag:interrupted:continuation:)``,
    /// inside the continuation's body: each waiter keeps this call's frames for as long as it waits,
    /// and the task allocator hands out frames from slabs of about 1 KB that it never gives back, so
    /// every byte kept out of them is a byte less per queued waiter. The waiter resumes on the store,
    /// right after the write that ended its wait: measured, that hands a lock on faster than resuming
    /// it on its own executor, which takes another thread.
    @inline(never)
    private func suspend(
        _ target: WaitTarget, tag: LeaseID, interrupted: @escaping @Sendable () -> BatonError?
    ) async throws -> (index: Int, revision: Int64) {
        nextGoneWait += 1
        let id = nextGoneWait
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                begin(id, target, tag: tag, interrupted: interrupted, continuation: continuation)
            }
        } onCancel: {
            environment.spawn { await self.endGoneWait(id, .failure(CancellationError())) }
        }
    }

    /// Ends wait `id` at once when it is over before it starts (the store is closed, the task is
    /// cancelled, the session ended, a generation is gone, the turn has come) and otherwise registers
    /// it: one watch from now per generation watched, and the wait in the store's tables.
    @inline(never)
    private func begin(
        _ id: Int64, _ target: WaitTarget, tag: LeaseID, interrupted: @Sendable () -> BatonError?,
        continuation: CheckedContinuation<(index: Int, revision: Int64), any Error>
    ) {
        let generations: [KeyGeneration], queue: Key?
        do {
            try prepare()
            switch target {
            case .untilGone(let watched):
                if let index = try watched.firstIndex(where: { try !exists($0) }) {
                    return continuation.resume(returning: (index, machine.revision))
                }
                (generations, queue) = (watched, nil)
            case .turn(let own, let prefix):
                switch try standing(of: own, under: prefix) {
                case .gone: return continuation.resume(returning: (1, machine.revision))
                case .first: return continuation.resume(returning: (0, machine.revision))
                case .behind(let ahead): (generations, queue) = ([ahead, own], prefix)
                }
            }
        } catch {
            return continuation.resume(throwing: error)
        }
        // A cancellation or interruption before this point found no wait to end.
        if Task.isCancelled { return continuation.resume(throwing: CancellationError()) }
        if let error = interrupted() { return continuation.resume(throwing: error) }
        var watches: [WatchID] = []
        do {
            for generation in generations {
                watches.append(try machine.watch(WatchRequest(.key(generation.key))).0)
            }
        } catch {
            // Unreachable (a watch from now is never compacted), but never a misaligned wait.
            for watch in watches { machine.cancelWatch(watch) }
            return continuation.resume(throwing: error)
        }
        for watch in watches { goneWaitOfWatch.insert(id, for: watch.rawValue) }
        if goneWaitsOfTag.modifyValue(for: tag.rawValue, { $0.append(id) }) == nil {
            goneWaitsOfTag.insert([id], for: tag.rawValue)
        }
        goneWaits.insert(
            GoneWait(tag: tag, generations: generations, watches: watches, queue: queue, continuation: continuation),
            for: id)
    }

    /// Where a waiter's key stands in its queue now.
    private enum Standing {
        case gone, first
        /// Behind this key: the newest one created before it.
        case behind(KeyGeneration)
    }

    private func standing(of own: KeyGeneration, under prefix: Key) throws -> Standing {
        guard try exists(own) else { return .gone }
        let ahead = try machine.range(
            RangeRequest(
                .prefix(prefix), limit: 1, sortOrder: .descend, sortTarget: .create, keysOnly: true,
                maxCreateRevision: own.createRevision - 1)
        ).kvs.first
        return ahead.map { .behind(KeyGeneration($0.key, createRevision: $0.createRevision)) } ?? .first
    }

    private func exists(_ generation: KeyGeneration) throws -> Bool {
        try machine.range(RangeRequest(.key(generation.key), keysOnly: true)).kvs.first?.createRevision
            == generation.createRevision
    }

    /// How many waiters are suspended in ``waitUntilGone(_:tag:interrupted:)`` (for tests).
    var suspendedWaits: Int { goneWaits.count }

    /// The keys each suspended wait watches, in registration order (for tests).
    var watchedKeys: [[Key]] { goneWaits.values.map { $0.generations.map(\.key) } }

    // `async` so that it, not the protocol's default, is the witness and the overload callers get.
    public func interruptWaits(tag: LeaseID, with error: BatonError) async {
        for id in goneWaitsOfTag[tag.rawValue] ?? [] {
            endGoneWait(id, .failure(error))
        }
    }

    /// Ends a wait, if it is still registered: its watches go and its waiter resumes with `result`.
    private func endGoneWait(_ id: Int64, _ result: Result<(index: Int, revision: Int64), any Error>) {
        guard let wait = goneWaits.removeValue(for: id) else { return }
        let emptied = goneWaitsOfTag.modifyValue(for: wait.tag.rawValue) { ids in
            ids.removeAll { $0 == id }
            return ids.isEmpty
        }
        if emptied == true { goneWaitsOfTag.removeValue(for: wait.tag.rawValue) }
        for watch in wait.watches {
            goneWaitOfWatch.removeValue(for: watch.rawValue)
            machine.cancelWatch(watch)
        }
        wait.continuation.resume(with: result)
    }

    /// Delivers a batch to an in-process wait: ends it if the batch removes the generation watched —
    /// unless that was the key ahead in a queue with another key still ahead, which it watches next.
    private func deliver(_ response: WatchResponse, toWaitOf watch: WatchID) {
        guard let id = goneWaitOfWatch[watch.rawValue], let wait = goneWaits[id],
            let index = wait.watches.firstIndex(of: watch)
        else { return }
        let generation = wait.generations[index]
        for event in response.events
        where event.kind == .delete || event.kv.createRevision != generation.createRevision {
            guard index == 0, let queue = wait.queue else {
                return endGoneWait(id, .success((index, event.kv.modRevision)))
            }
            return advance(id, wait, under: queue)
        }
    }

    /// The key ahead of a queued waiter went: watch the next one ahead, or end the wait if the waiter
    /// is first now or its own key went too (in the same revision, say, with its lease).
    private func advance(_ id: Int64, _ wait: GoneWait, under queue: Key) {
        do {
            switch try standing(of: wait.generations[1], under: queue) {
            case .gone: endGoneWait(id, .success((1, machine.revision)))
            case .first: endGoneWait(id, .success((0, machine.revision)))
            case .behind(let ahead):
                let next = try machine.watch(WatchRequest(.key(ahead.key))).0
                goneWaitOfWatch.removeValue(for: wait.watches[0].rawValue)
                machine.cancelWatch(wait.watches[0])
                goneWaitOfWatch.insert(id, for: next.rawValue)
                goneWaits.modifyValue(for: id) { wait in
                    wait.generations[0] = ahead
                    wait.watches[0] = next
                }
            }
        } catch {
            endGoneWait(id, .failure(error))  // unreachable: reads of now and watches from now
        }
    }

    /// Closes the store: every watch ends with `alreadyClosed` and later requests fail with it.
    public func close() {
        guard !closed else { return }
        closed = true
        expiryTimer?.task.cancel()
        expiryTimer = nil
        let open = watchers.values
        watchers = IDTable()
        for continuation in open {
            continuation.finish(throwing: BatonError(.alreadyClosed, "the local store was closed"))
        }
        for id in goneWaits.ids {
            endGoneWait(id, .failure(BatonError(.alreadyClosed, "the local store was closed")))
        }
        applyStoppedKeepers()
        let keepers = leaseKeepers.sorted { $0.key < $1.key }
        leaseKeepers.removeAll()
        for (_, onEnd) in keepers { onEnd() }
    }

    private func cancelWatch(_ id: WatchID) {
        guard watchers.removeValue(for: id.rawValue) != nil else { return }
        machine.cancelWatch(id)
    }

    /// Refuses requests after close, and before serving one unpins the leases whose keepers stopped
    /// and removes expired leases.
    private func prepare() throws {
        guard !closed else { throw BatonError(.alreadyClosed, "the local store was closed") }
        applyStoppedKeepers()
        if let next = nextExpiry {
            let now = environment.now()
            if next <= now {
                leasesEnded(machine.expireLeases(now: now))
                settle()
            }
        }
    }

    /// After a change: deliver watch events, compact old history, and arm the expiry timer.
    private func settle() {
        let (deliveries, next) = machine.settle(retainingHistory: historyRetention)
        nextExpiry = next
        for delivery in deliveries {
            if let watcher = watchers[delivery.watch.rawValue] {
                watcher.yield(delivery.response)
            } else {
                deliver(delivery.response, toWaitOf: delivery.watch)
            }
        }
        armExpiryTimer()
    }

    /// Keeps one timer for the earliest lease expiry. A timer that fires after the lease was renewed
    /// expires nothing and re-arms for the new earliest expiry.
    private func armExpiryTimer() {
        guard !closed, let next = nextExpiry else { return }
        if let timer = expiryTimer, timer.deadline <= next { return }
        expiryTimer?.task.cancel()
        let environment = self.environment
        let task = environment.spawn { [weak self] in
            try await environment.sleep(until: next)
            await self?.timerFired()
        }
        expiryTimer = (next, task)
    }

    private func timerFired() {
        expiryTimer = nil
        guard !closed else { return }
        leasesEnded(machine.expireLeases(now: environment.now()))
        settle()
    }
}

/// A waiter suspended in ``LocalStore/waitUntilGone(_:tag:interrupted:)`` or
/// ``LocalStore/waitForTurn(_:under:tag:interrupted:)``: the generations it waits on, the watch on
/// each (in the same order), the queue it waits in (then the generations are the key ahead and its
/// own) and its continuation.
private struct GoneWait {
    let tag: LeaseID
    var generations: [KeyGeneration]
    var watches: [WatchID]
    let queue: Key?
    let continuation: CheckedContinuation<(index: Int, revision: Int64), any Error>
}

/// A default actor lending its executor to a ``LocalStore`` that was given none.
private actor ExecutorAnchor {}

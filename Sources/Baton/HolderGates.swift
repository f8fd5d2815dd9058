import BatonCore

/// One session's local FIFO queues, one per lock or election name: at most one task of a session
/// holds (or waits in the store for) a name at a time.
///
/// etcd keys a waiter by its session's lease, so two tasks sharing a session would share one key and
/// both believe they hold the lock. Baton queues them here first; only the front task goes to the
/// store.
actor HolderGates {
    private var held = KeySet()
    private var queues: [Key: [(id: Int, continuation: CheckedContinuation<Void, any Error>)]] = [:]
    private var nextID = 0
    /// Where a cancelled waiter's removal from its queue runs.
    private let environment: BatonEnvironment

    init(environment: BatonEnvironment) { self.environment = environment }

    /// Waits until this task is the session's holder of `name`.
    /// - Throws: `CancellationError` if cancelled while queued (the queue forgets it).
    func acquire(_ name: Key) async throws {
        try Task.checkCancellation()
        if held.insert(name) { return }
        nextID += 1
        let id = nextID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // A cancellation that came before this point saw no queued entry; honour it here.
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    queues[name, default: []].append((id, continuation))
                }
            }
        } onCancel: {
            environment.spawn { await self.cancel(id, name: name) }
        }
    }

    /// Takes `name` if no task of the session holds it. - Returns: whether it was taken.
    func tryAcquire(_ name: Key) -> Bool {
        held.insert(name)
    }

    /// Hands `name` to the next queued task, or frees it.
    func release(_ name: Key) {
        guard var queue = queues[name], !queue.isEmpty else {
            held.remove(name)
            return
        }
        let next = queue.removeFirst()
        queues[name] = queue.isEmpty ? nil : queue
        next.continuation.resume()
    }

    private func cancel(_ id: Int, name: Key) {
        guard var queue = queues[name], let index = queue.firstIndex(where: { $0.id == id }) else { return }
        let entry = queue.remove(at: index)
        queues[name] = queue.isEmpty ? nil : queue
        entry.continuation.resume(throwing: CancellationError())
    }
}

/// The floor every local-lock figure is compared against: the smallest honest async mutex — an actor
/// with a FIFO queue of continuations, cancellable while queued.
///
/// It is used exactly as Baton's mutex is: the critical section runs in the caller's task, and every
/// `lock()` and `unlock()` crosses to the mutex actor and back. Baton does strictly more (a store
/// transaction per lock and per unlock, fencing tokens, sessions), so the ratio of the two is what that
/// costs, not how fast a lock can be.
actor FloorMutex {
    private var held = false
    private var queue = FloorQueue()
    private var nextID: UInt64 = 0

    /// Waits until the mutex is held by the caller.
    ///
    /// Waiters are served first come, first served. When the waiting task is cancelled it leaves the
    /// queue and this throws `CancellationError`.
    func lock() async throws {
        try Task.checkCancellation()
        guard held else {
            held = true
            return
        }
        nextID &+= 1
        let id = nextID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // A cancellation that came before this point found nothing queued; honour it here.
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    queue.append(id, continuation)
                }
            }
        } onCancel: {
            Task { await self.cancel(id) }
        }
    }

    /// Hands the mutex to the longest-waiting task, or frees it.
    func unlock() {
        if let next = queue.popFirst() {
            next.resume()
        } else {
            held = false
        }
    }

    /// How many tasks are queued.
    var waiting: Int { queue.count }

    private func cancel(_ id: UInt64) {
        queue.remove(id)?.resume(throwing: CancellationError())
    }
}

/// A FIFO of waiters with O(1) append and pop, and removal by ID for cancellation.
struct FloorQueue {
    private var slots: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)?] = []
    private var head = 0
    private(set) var count = 0

    mutating func append(_ id: UInt64, _ continuation: CheckedContinuation<Void, any Error>) {
        slots.append((id, continuation))
        count += 1
    }

    mutating func popFirst() -> CheckedContinuation<Void, any Error>? {
        while head < slots.count {
            let slot = slots[head]
            slots[head] = nil
            head += 1
            if let slot {
                count -= 1
                compact()
                return slot.continuation
            }
        }
        return nil
    }

    mutating func remove(_ id: UInt64) -> CheckedContinuation<Void, any Error>? {
        guard let index = slots[head...].firstIndex(where: { $0?.id == id }) else { return nil }
        let slot = slots[index]
        slots[index] = nil
        count -= 1
        return slot?.continuation
    }

    private mutating func compact() {
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024, head * 2 >= slots.count {
            slots.removeFirst(head)
            head = 0
        }
    }
}

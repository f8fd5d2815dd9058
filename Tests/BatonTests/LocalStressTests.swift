import BatonCore
import Synchronization
import Testing

@testable import Baton

/// Many tasks on one `local:` name, doing everything at once: locking, giving up, being cancelled,
/// sharing sessions, and losing their sessions to orphaning, closing and revokes. The in-process
/// paths (the store following each waiter's queue, keeping leases, interrupting waits) must keep one
/// holder at a time, strand no waiter and leave nothing behind.
///
/// The interleavings come from the real executor, so each run differs; what is checked is what must
/// hold in every one. Each task's steps are drawn in advance from a seeded source, and nothing waits on
/// time: the clock is manual and never moves, so no lease expires by itself.
@Suite struct LocalStressTests {
    /// One task's step.
    enum Step: CaseIterable {
        case lock, tryLock, cancelledLock, withLock, endSession
    }

    @Test(
        .timeLimit(.minutes(1)),
        arguments: [BackendKind.local, .localByRequests], [1, 2, 3] as [UInt64])
    func everythingAtOnceKeepsOneHolderAndLeavesNothingBehind(_ kind: BackendKind, seed: UInt64) async throws {
        let h = try await Harness(kind)
        let store = h.store
        let random = RandomSource(seed: seed)
        let section = CriticalSection()

        // 12 sessions, 2 tasks each, 40 steps per task; a task whose session has ended stops.
        var sessions: [Session] = []
        for _ in 0..<12 { sessions.append(try await h.session()) }
        let plans = (0..<24).map { _ in
            (0..<40).map { _ in
                // Mostly locking; now and then a session ends (one way or another).
                random.int(in: 0...99) < 97
                    ? [Step.lock, .tryLock, .cancelledLock, .withLock][random.int(in: 0...3)] : .endSession
            }
        }
        let endings = (0..<24).map { _ in random.int(in: 0...2) }

        await withTaskGroup(of: Void.self) { group in
            for task in 0..<24 {
                let session = sessions[task / 2], plan = plans[task], ending = endings[task]
                group.addTask {
                    let mutex = try! session.mutex("stress")
                    for step in plan where session.end == nil {
                        switch step {
                        case .lock:
                            guard let grant = try? await mutex.lock() else { continue }
                            await section.enter(passing: store)
                            try? await grant.unlock()
                        case .tryLock:
                            guard let grant = try? await mutex.tryLock() else { continue }
                            await section.enter(passing: store)
                            try? await grant.unlock()
                        case .cancelledLock:
                            let attempt = Task { try await mutex.lock() }
                            attempt.cancel()
                            if let grant = try? await attempt.value {
                                await section.enter(passing: store)
                                try? await grant.unlock()
                            }
                        case .withLock:
                            _ = try? await mutex.withLock { _ in await section.enter(passing: store) }
                        case .endSession:
                            switch ending {
                            case 0: session.orphan()
                            case 1: try? await session.close()
                            default: try? await store.revokeLease(session.lease)
                            }
                        }
                    }
                }
            }
        }

        #expect(section.overlaps.load(ordering: .relaxed) == 0)
        #expect(section.entries.load(ordering: .relaxed) > 0)
        // Waiters that lost their sessions delete their keys in the background: wait for the store.
        try await h.waitForKeys("stress/", count: 0)
        if let local = store as? LocalStore {
            #expect(await local.suspendedWaits == 0)
            #expect(await local.watchedKeys.isEmpty)
        }
        // The name is free for a new session, at once.
        let grant = try await h.session().mutex("stress").tryLock()
        try await grant.unlock()
        await h.close()
    }
}

/// Counts entries into a critical section and how many found someone else inside.
final class CriticalSection: Sendable {
    let inside = Atomic(0), overlaps = Atomic(0), entries = Atomic(0)

    /// Enters, suspends once (a call to `store`, so other tasks run meanwhile) and leaves.
    func enter(passing store: any Backend) async {
        if inside.add(1, ordering: .sequentiallyConsistent).newValue > 1 { overlaps.add(1, ordering: .relaxed) }
        entries.add(1, ordering: .relaxed)
        _ = try? await store.range(RangeRequest(.key("elsewhere")))
        inside.subtract(1, ordering: .sequentiallyConsistent)
    }
}

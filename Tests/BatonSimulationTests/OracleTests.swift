import Baton
import BatonCore
import Dispatch
import Testing

@testable import BatonSimulation

/// A watch response for `events` (kind, key, create revision, mod revision, lease) at `revision`.
func response(_ events: [(WatchEvent.Kind, String, Int64, Int64, Int64?)]) -> WatchResponse {
    WatchResponse(
        revision: events.last?.3 ?? 0,
        events: events.map { kind, key, create, mod, lease in
            WatchEvent(
                kind: kind,
                kv: KeyValue(
                    key: Key(key), createRevision: kind == .put ? create : 0, modRevision: mod, version: 1,
                    lease: lease.map(LeaseID.init)))
        })
}

/// Fresh oracles on a scheduler of their own.
func makeOracles(leaseAlive: Bool? = true, serverRevision: Int64 = 100) -> Oracles {
    let scheduler = Scheduler(seed: 1)
    let oracles = Oracles(scheduler: scheduler, trace: Trace(scheduler: scheduler, recording: false))
    oracles.leaseAlive = { _ in leaseAlive }
    oracles.serverRevision = { serverRevision }
    return oracles
}

struct OracleTests {
    @Test func leaseLedgerFlagsKeysOfExpiredAndRevokedLeasesOnly() {
        var ledger = LeaseLedger()
        ledger.granted(LeaseID(1), ttl: 2, now: 0)
        ledger.granted(LeaseID(2), ttl: 2, now: 0)
        ledger.renewed(LeaseID(2), ttl: 2, now: 1_500_000_000)
        ledger.granted(LeaseID(3), ttl: 10, now: 0)
        ledger.revoked(LeaseID(3))
        let kvs =
            [1, 2, 3, 4].map { KeyValue(key: Key("k\($0)"), lease: LeaseID(Int64($0))) } + [KeyValue(key: "plain")]
        let now: Int64 = 2_000_000_000
        #expect(ledger.violations(in: kvs, now: now).map(\.key) == ["k1", "k3"])
        #expect(ledger.isAlive(LeaseID(2), now: now) == true)
        #expect(ledger.isAlive(LeaseID(4), now: now) == nil)
    }

    @Test func keyHistoryTracksOwnershipPerParent() {
        var history = KeyHistory()
        history.apply(response([(.put, "l/a", 2, 2, 1), (.put, "other/x", 2, 2, nil)]))
        history.apply(response([(.put, "l/b", 3, 3, 2)]))
        history.apply(response([(.put, "l/c", 4, 4, 3)]))
        let deleted = history.apply(response([(.delete, "l/b", 0, 5, nil)]))  // a waiter leaves
        history.apply(response([(.delete, "l/a", 0, 6, nil)]))  // the owner leaves: c owns
        #expect(deleted.map(\.key) == ["l/b"])
        #expect(history.generation("l/a", createRevision: 2)?.ownerAt == 2)
        #expect(history.generation("l/b", createRevision: 3)?.ownerAt == nil)
        #expect(history.generation("l/b", createRevision: 3)?.deletedAt == 5)
        #expect(history.generation("l/c", createRevision: 4)?.ownerAt == 6)
        #expect(history.generation("other/x", createRevision: 2)?.ownerAt == 2)
        #expect(history.liveKeys(under: "l/") == ["l/c"])
    }

    @Test func aTokenGrantedTwiceFails() {
        let oracles = makeOracles()
        oracles.lockAcquired("l", key: "l/1", token: 5, lease: LeaseID(1), holder: "a")
        oracles.lockAcquired("l", key: "l/1", token: 5, lease: LeaseID(1), holder: "b")
        #expect(oracles.violations.map(\.oracle) == ["lock-token"])
    }

    @Test func aGrantWhoseKeyNeverOwnedFails() {
        let oracles = makeOracles()
        oracles.history.apply(response([(.put, "l/1", 2, 2, 1)]))
        oracles.history.apply(response([(.put, "l/2", 3, 3, 2)]))
        oracles.history.apply(response([(.delete, "l/2", 0, 4, nil)]))  // the waiter's lease expired
        oracles.history.apply(response([(.delete, "l/1", 0, 5, nil)]))  // then the holder left
        oracles.lockAcquired("l", key: "l/2", token: 3, lease: LeaseID(2), holder: "waiter without recheck")
        oracles.checkGrantsAgainstHistory()
        #expect(oracles.violations.map(\.oracle) == ["lock-owner"])
    }

    @Test func aGrantReportedBeforeItsKeyOwnedFails() {
        let oracles = makeOracles(serverRevision: 4)
        oracles.history.apply(response([(.put, "e/1", 2, 2, 1), (.put, "e/2", 3, 3, 2)]))
        oracles.history.apply(response([(.put, "e/3", 4, 4, 3)]))
        oracles.leaderElected("e", key: "e/3", term: 4, lease: LeaseID(3), holder: "impatient")  // e/1 still leads
        oracles.history.apply(response([(.delete, "e/1", 0, 5, nil), (.delete, "e/2", 0, 5, nil)]))
        oracles.checkGrantsAgainstHistory()
        #expect(oracles.violations.map(\.oracle) == ["election-owner"])
    }

    @Test func aCorrectGrantPasses() {
        let oracles = makeOracles(serverRevision: 5)
        oracles.history.apply(response([(.put, "l/1", 2, 2, 1), (.put, "l/2", 3, 3, 2)]))
        oracles.history.apply(response([(.delete, "l/1", 0, 5, nil)]))
        oracles.lockAcquired("l", key: "l/2", token: 3, lease: LeaseID(2), holder: "next")
        oracles.checkGrantsAgainstHistory()
        #expect(oracles.violations.isEmpty)
    }

    @Test func aGrantedKeyDeletedUnderALiveLeaseBeforeReleaseIsStolen() {
        let oracles = makeOracles(leaseAlive: true)
        oracles.history.apply(response([(.put, "l/1", 2, 2, 1)]))
        oracles.lockAcquired("l", key: "l/1", token: 2, lease: LeaseID(1), holder: "victim")
        oracles.historyApplied(response([(.delete, "l/1", 0, 3, nil)]))
        #expect(oracles.violations.map(\.oracle) == ["lock-stolen"])

        let released = makeOracles(leaseAlive: true)
        released.history.apply(response([(.put, "l/1", 2, 2, 1)]))
        released.lockAcquired("l", key: "l/1", token: 2, lease: LeaseID(1), holder: "owner")
        released.releasing("l/1", token: 2)
        released.historyApplied(response([(.delete, "l/1", 0, 3, nil)]))
        #expect(released.violations.isEmpty)

        let expired = makeOracles(leaseAlive: false)
        expired.history.apply(response([(.put, "l/1", 2, 2, 1)]))
        expired.lockAcquired("l", key: "l/1", token: 2, lease: LeaseID(1), holder: "stale")
        expired.historyApplied(response([(.delete, "l/1", 0, 3, nil)]))
        #expect(expired.violations.isEmpty)
    }

    @Test func observersMustNotSeeTermsGoBackwards() {
        let oracles = makeOracles()
        oracles.observed("e", observer: "o", leader: KeyValue(key: "e/2", createRevision: 10))
        oracles.observed("e", observer: "o", leader: nil)
        oracles.observed("e", observer: "o", leader: KeyValue(key: "e/1", createRevision: 7))
        #expect(oracles.violations.map(\.oracle) == ["election-order"])
    }

    @Test func unfencedOverlapsAreCountedNotFailed() {
        let oracles = makeOracles()
        oracles.enter("l", holder: "a")
        oracles.enter("l", holder: "b")
        oracles.exit("l", holder: "a")
        oracles.exit("l", holder: "b")
        oracles.enter("l", holder: "a")
        #expect(oracles.unfencedOverlaps == 1)
        #expect(oracles.violations.isEmpty)
    }

    @Test func fencedResourceFailsOnlyWhenAFencedOutHolderStillHasItsLease() {
        let report = Simulation(seed: 1, options: quietOptions()).run { world in
            let resource = world.resource("r")
            world.addClient("c1") { node in
                let alive = try await node.backend.grantLease(ttl: 60, id: nil)
                let shortLived = try await node.backend.grantLease(ttl: 1, id: nil)
                #expect(try await resource.write(token: 5, lease: shortLived.id, holder: "old", from: node))
                #expect(try await resource.write(token: 7, lease: alive.id, holder: "new", from: node))
                try await node.sleep(for: .seconds(2))
                #expect(!(try await resource.write(token: 5, lease: shortLived.id, holder: "stale", from: node)))
                #expect(world.oracles.violations.isEmpty, "a stale holder fenced out is fencing working")
                #expect(try await resource.write(token: 9, lease: alive.id, holder: "newer", from: node))
                #expect(!(try await resource.write(token: 7, lease: alive.id, holder: "robbed", from: node)))
                try await node.backend.revokeLease(alive.id)
            }
            _ = await world.waitForPrograms()
        }
        #expect(report.violations.map(\.oracle) == ["fencing"])
        #expect(report.fencedAccepted == 3 && report.fencedRejected == 2)
    }

    @Test func aVisibleKeyOfAnExpiredLeaseFails() {
        let report = Simulation(seed: 1, options: quietOptions()).run { world in
            world.server.ledger.granted(LeaseID(99), ttl: 1, now: 0)
            try await world.sleep(until: .seconds(2))
            world.server.checkVisible([KeyValue(key: "ghost", createRevision: 2, lease: LeaseID(99))])
        }
        #expect(report.violations.map(\.oracle) == ["expired-lease-visible"])
    }

    @Test func aTaskLeftBehindFails() {
        var options = quietOptions()
        options.drainLimit = .seconds(30)
        let report = Simulation(seed: 1, options: options).run { world in
            world.addClient("c1") { node in
                node.spawn {
                    while true { try await node.sleep(for: .seconds(1)) }
                }
            }
            _ = await world.waitForPrograms()
        }
        #expect(report.violations.map(\.oracle) == ["leftover"])
    }

    @Test func aBodyThatNeverReturnsOrIsStuckFailsLiveness() {
        var options = quietOptions()
        options.timeLimit = .seconds(100)
        let late = Simulation(seed: 1, options: options).run { world in
            while true { try await world.sleep(for: .seconds(1)) }
        }
        #expect(late.violations.map(\.oracle) == ["liveness"])
        let stuck = Simulation(seed: 1, options: options).run { world in
            let _: Void = await withUnsafeContinuation { _ in }  // never resumed
        }
        #expect(stuck.violations.map(\.oracle) == ["liveness"])
    }

    @Test func aJobFromOutsideTheSimulationFails() {
        let report = Simulation(seed: 1, options: quietOptions()).run { world in
            let created = DispatchSemaphore(value: 0)
            let executor = world.controlExecutor
            DispatchQueue.global().async {  // escapes on purpose: this is what the oracle catches
                Task(executorPreference: executor) {}
                created.signal()
            }
            created.wait()
        }
        #expect(report.violations.map(\.oracle) == ["escaped"])
    }

    @Test func aBackendCallFromOutsideTheSimulationIsRefusedAndFails() {
        let notes = Notes()
        let report = Simulation(seed: 1, options: quietOptions()).run { world in
            let node = world.addClient("c1") { _ in }
            let done = DispatchSemaphore(value: 0)
            Task(executorPreference: QueueExecutor()) {  // escapes on purpose, on a queue's thread
                do {
                    _ = try await node.backend.put(PutRequest(key: "k"))
                } catch {
                    notes.add(describe(error))
                }
                done.signal()
            }
            done.wait()
            _ = await world.waitForPrograms()
        }
        #expect(notes.lines == ["unavailable"])
        #expect(report.violations.map(\.oracle) == ["escaped"])
    }
}

/// A task executor running jobs on a dispatch queue of its own: code on it runs outside the simulation
/// without needing one of the (few) cooperative threads a blocked driver may be holding.
final class QueueExecutor: TaskExecutor, @unchecked Sendable {  // test-only: the queue serialises everything
    private let queue = DispatchQueue(label: "outside")
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

import Baton
import Dispatch
import Testing

@testable import BatonSimulation

/// A log shared by tasks of one scheduler (they all run on its driver thread).
final class Log: @unchecked Sendable {  // test-only: written by jobs of one driver thread
    var entries: [String] = []
    var done = false
    func add(_ entry: String) { entries.append(entry) }
}

/// Starts `body` on a fresh node of `scheduler` inside the driver, and drives until it returns.
func drive(
    _ scheduler: Scheduler, timeLimit: Duration = .seconds(3600),
    _ body: @escaping @Sendable (NodeExecutor, Int32, Log) async throws -> Void
) -> (Scheduler.Stop, Log) {
    let log = Log()
    let node = scheduler.addNode(name: "n")
    let executor = scheduler.makeExecutor(node: node, serial: false)
    let stop = scheduler.drive(
        setup: {
            Task(executorPreference: executor) {
                try? await body(executor, node, log)
                log.done = true
            }
        }, until: { log.done }, timeLimit: timeLimit)
    return (stop, log)
}

struct SchedulerTests {
    @Test func timerQueueOrdersByDeadlineThenInsertion() {
        var queue = TimerQueue()
        let order: [(Int64, UInt64)] = [(30, 1), (10, 2), (20, 3), (10, 4), (10, 5), (0, 6)]
        for (deadline, sequence) in order {
            queue.push(TimerEntry(deadline: deadline, sequence: sequence, node: 0, target: ActionTimer {}))
        }
        var popped: [UInt64] = []
        while let entry = queue.pop() { popped.append(entry.sequence) }
        #expect(popped == [6, 2, 4, 5, 3, 1])
    }

    @Test func sleepersWakeInDeadlineOrderAndTimeNeverGoesBack() {
        let scheduler = Scheduler(seed: 7)
        let (stop, log) = drive(scheduler) { _, node, log in
            let clock = SimulatedClock(scheduler: scheduler, node: node)
            await withTaskGroup(of: Void.self) { group in
                for (index, delay) in [5, 1, 3, 3, 0, 2].enumerated() {
                    group.addTask {
                        try? await clock.sleep(until: .init(offset: .seconds(delay)))
                        #expect(clock.now.offset == .seconds(delay))
                        log.add("\(index)@\(clock.now.offset.components.seconds)")
                    }
                }
            }
        }
        #expect(stop == .finished)
        // Wake-ups in execution order: time never goes backwards.
        #expect(log.entries.map { $0.split(separator: "@")[1] } == ["0", "1", "2", "3", "3", "5"])
        #expect(scheduler.now == .seconds(5))
        #expect(scheduler.foreignJobs == 0)
    }

    @Test func cancelledSleepResumesPromptlyWithCancellationError() {
        let scheduler = Scheduler(seed: 1)
        let (stop, log) = drive(scheduler) { executor, node, log in
            let clock = SimulatedClock(scheduler: scheduler, node: node)
            let sleeper = Task(executorPreference: executor) {
                do {
                    try await clock.sleep(until: .init(offset: .seconds(3600)))
                    log.add("woke")
                } catch is CancellationError {
                    log.add("cancelled at \(clock.now.offset)")
                }
            }
            try await clock.sleep(until: .init(offset: .seconds(1)))
            sleeper.cancel()
            _ = await sleeper.result
        }
        #expect(stop == .finished)
        #expect(log.entries == ["cancelled at 1.0 seconds"])
        #expect(scheduler.now == .seconds(1))
    }

    @Test func sleepInAlreadyCancelledTaskThrowsAtOnce() {
        let scheduler = Scheduler(seed: 1)
        let (_, log) = drive(scheduler) { _, node, log in
            let clock = SimulatedClock(scheduler: scheduler, node: node)
            withUnsafeCurrentTask { $0?.cancel() }
            do {
                try await clock.sleep(until: .init(offset: .seconds(10)))
            } catch {
                log.add("\(type(of: error)) at \(clock.now.offset)")
            }
        }
        #expect(log.entries == ["CancellationError at 0.0 seconds"])
    }

    @Test func driftingClockRunsAtItsRate() {
        let scheduler = Scheduler(seed: 1)
        let (_, log) = drive(scheduler) { _, node, log in
            let slow = SimulatedClock(scheduler: scheduler, node: node, ratePPM: 500_000)
            try await slow.sleep(until: slow.now.advanced(by: .seconds(1)))
            log.add("local \(slow.now.offset) global \(scheduler.now)")
        }
        #expect(log.entries == ["local 1.0 seconds global 2.0 seconds"])
    }

    @Test func differentSeedsInterleaveDifferentlyAndEqualSeedsIdentically() {
        func order(_ seed: UInt64) -> [String] {
            let scheduler = Scheduler(seed: seed)
            let (_, log) = drive(scheduler) { _, _, log in
                await withTaskGroup(of: Void.self) { group in
                    for task in 0..<4 {
                        group.addTask {
                            for step in 0..<3 {
                                log.add("\(task).\(step)")
                                await Task.yield()
                            }
                        }
                    }
                }
            }
            return log.entries
        }
        #expect(order(3) == order(3))
        let orders = Set((1...8).map { order(UInt64($0)) })
        #expect(orders.count >= 6, "seeds should explore different interleavings")
    }

    @Test func pausedNodeHoldsItsJobsAndCrashedNodeFreezesThem() {
        let scheduler = Scheduler(seed: 5)
        let log = Log()
        let control = scheduler.addNode(name: "control")
        let controlExecutor = scheduler.makeExecutor(node: control, serial: false)
        let worker = scheduler.addNode(name: "worker")
        let workerExecutor = scheduler.makeExecutor(node: worker, serial: false)
        let clock = SimulatedClock(scheduler: scheduler, node: worker)
        let controlClock = SimulatedClock(scheduler: scheduler, node: control)
        _ = scheduler.drive(
            setup: {
                Task(executorPreference: workerExecutor) {
                    for tick in 1...20 {
                        try await clock.sleep(until: .init(offset: .seconds(tick)))
                        log.add("tick \(tick) at \(clock.now.offset)")
                    }
                }
                Task(executorPreference: controlExecutor) {
                    try await controlClock.sleep(until: .init(offset: .milliseconds(2500)))
                    scheduler.pause(worker)
                    try await controlClock.sleep(until: .init(offset: .milliseconds(6500)))
                    scheduler.resume(worker)
                    try await controlClock.sleep(until: .init(offset: .milliseconds(8500)))
                    scheduler.crash(worker)
                    try await controlClock.sleep(until: .init(offset: .seconds(30)))
                    log.done = true
                }
            }, until: { log.done })
        // Ticks 1, 2 on time; 3…6 fired during the pause and ran only at 6.5 s; then 7, 8; then frozen.
        #expect(
            log.entries == [
                "tick 1 at 1.0 seconds", "tick 2 at 2.0 seconds", "tick 3 at 6.5 seconds", "tick 4 at 6.5 seconds",
                "tick 5 at 6.5 seconds", "tick 6 at 6.5 seconds", "tick 7 at 7.0 seconds", "tick 8 at 8.0 seconds",
            ])
        #expect(scheduler.state(of: worker) == .crashed)
        #expect(scheduler.frozenJobs(of: worker) == 1)
        #expect(scheduler.pendingWork().isEmpty)
    }

    @Test func jobsEnqueuedWithoutADriverAreForeign() {
        let scheduler = Scheduler(seed: 1)
        let node = scheduler.addNode(name: "n")
        let executor = scheduler.makeExecutor(node: node, serial: false)
        let log = Log()
        Task(executorPreference: executor) { log.done = true }  // no driver runs yet
        #expect(scheduler.foreignJobs == 1)
        _ = scheduler.drive(until: { log.done })
        #expect(log.done, "a foreign job still runs, so a run reports it instead of hanging")
    }

    @Test func jobsEnqueuedFromAnotherThreadAreForeign() {
        let scheduler = Scheduler(seed: 1)
        let (stop, log) = drive(scheduler) { executor, _, log in
            let arrived = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                Task(executorPreference: executor) { log.add("foreign job ran") }
                arrived.signal()
            }
            arrived.wait()  // the foreign enqueue happens while this job runs on the driver
            try await SimulatedClock(scheduler: scheduler, node: 0).sleep(until: .init(offset: .seconds(1)))
        }
        #expect(stop == .finished)
        #expect(scheduler.foreignJobs == 1)
        #expect(log.entries == ["foreign job ran"])
    }
}

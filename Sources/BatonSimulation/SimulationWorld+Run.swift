import Baton
import BatonCore

extension SimulationWorld {
    /// Runs the body, drains, checks, and tears the world down.
    func execute(_ body: @escaping @Sendable (SimulationWorld) async throws -> Void) -> SimulationReport {
        let stop = scheduler.drive(
            setup: { start(body) }, until: { rootDone || oracles.failed }, timeLimit: options.timeLimit)
        switch stop {
        case .finished: break
        case .quiescent:
            oracles.fail(
                "liveness",
                "the body is stuck: nothing can run and no timer is pending (\(unfinishedPrograms.joined(separator: ", ")))"
            )
        case .timeLimit: oracles.fail("liveness", "the body did not return within \(options.timeLimit)")
        case .jobLimit: oracles.fail("liveness", "job limit reached at \(Trace.format(now)): a livelock")
        }
        if !oracles.failed { drain() }
        if scheduler.foreignJobs > 0 {
            oracles.fail(
                "escaped",
                "\(scheduler.foreignJobs) jobs arrived from outside the scheduler: some code escaped the simulation (an unstructured task without the executor preference, a real-time sleep, a queue or another OS thread)"
            )
        }
        let report = SimulationReport(
            seed: seed, plan: options.faultPlan, violations: oracles.violations, jobs: scheduler.jobsRun,
            simulatedTime: now, traceHash: (trace.hash ^ scheduler.scheduleHash) &* 0x100_0000_01b3,
            trace: trace.lines, foreignJobs: scheduler.foreignJobs, unfencedOverlaps: oracles.unfencedOverlaps,
            messages: network.sent, dropped: network.dropped, grants: oracles.grants, leaderships: oracles.leaderships,
            fencedAccepted: resources.values.reduce(0) { $0 + $1.accepted },
            fencedRejected: resources.values.reduce(0) { $0 + $1.rejected })
        tearDown()
        return report
    }

    private func start(_ body: @escaping @Sendable (SimulationWorld) async throws -> Void) {
        server.start()
        let store = server.store, oracles = self.oracles
        historyTask = Task(executorPreference: server.taskExecutor) {
            do {
                let stream = try await store.watch(WatchRequest(.prefix(Key(bytes: []))))
                for try await response in stream { oracles.historyApplied(response) }
            } catch {}
        }
        apply(options.faultPlan)
        Task(executorPreference: controlExecutor) { [self] in
            do {
                try await body(self)
            } catch {
                oracles.fail("body", "the simulation body threw \(error)")
            }
            rootDone = true
        }
    }

    /// After the body: let everything settle, report what would still run, stop the server's own
    /// tasks, and check grants against the complete history.
    private func drain() {
        let drained = scheduler.drive(until: { oracles.failed }, timeLimit: now + options.drainLimit)
        guard !oracles.failed else { return }
        if drained != .quiescent {
            for pending in scheduler.pendingWork() {
                oracles.fail(
                    "leftover",
                    "\(scheduler.name(of: pending.node)) still has \(pending.timers) timers and \(pending.jobs) jobs \(options.drainLimit) after the body returned (a task left behind)"
                )
            }
        }
        for channel in network.openChannels {
            oracles.fail("leftover", "watch w\(channel.id) of \(channel.client) is still open after the body returned")
        }
        _ = scheduler.drive(
            setup: {
                server.close()
                historyTask?.cancel()
            }, until: { false }, timeLimit: now + .seconds(1))
        oracles.checkGrantsAgainstHistory()
    }

    /// Drops references so the world can be freed (frozen tasks stay suspended forever).
    private func tearDown() {
        historyTask = nil
        scheduler.shutdown()
        for name in recordOrder { records[name]?.current = nil }
        records.removeAll()
        resources.removeAll()
        faultTimers.removeAll()
    }
}

import Baton
import BatonCore
import Testing

@testable import BatonSimulation

/// Options with a fixed scheduling policy and no faults unless a test adds them.
func quietOptions(_ configure: (inout SimulationOptions) -> Void = { _ in }) -> SimulationOptions {
    var options = SimulationOptions()
    options.newestBias = 0
    options.network = NetworkConditions(
        latency: .milliseconds(1)...(.milliseconds(5)), requestTimeout: .milliseconds(500),
        dialTimeout: .milliseconds(100), failureDetection: .seconds(1))
    configure(&options)
    return options
}

/// Errors as short strings for comparisons.
func describe(_ error: any Error) -> String {
    if let error = error as? BatonError { return "\(error.code)" }
    return "\(type(of: error))"
}

/// A test-side record shared by a body and its programs (all on one driver thread).
final class Notes: @unchecked Sendable {  // test-only: written by jobs of one driver thread
    var lines: [String] = []
    func add(_ line: String) { lines.append(line) }
}

struct NetworkFaultTests {
    @Test func partitionedRequestsTimeOutThenFailFastThenHeal() {
        let notes = Notes()
        let options = quietOptions { $0.network.requestTimeout = .milliseconds(300) }
        let report = Simulation(seed: 1, options: options).run { world in
            world.addClient("c1") { node in
                try await node.sleep(for: .milliseconds(500))
                for step in 0..<4 {
                    do {
                        _ = try await node.backend.put(PutRequest(key: "k", value: Array("\(step)".utf8)))
                        notes.add("\(step): ok")
                    } catch {
                        notes.add("\(step): \(describe(error))")
                    }
                    try await node.sleep(for: .milliseconds(600))
                }
            }
            world.partition("c1")  // at 0 s: detection at 1 s
            try await world.sleep(until: .seconds(2))
            world.heal("c1")
            _ = await world.waitForPrograms()
        }
        #expect(report.passed, "\(report.violations)")
        // 0.5 s: sent before detection, dropped: timeout at 0.8 s. 1.4 s: the connection is known down:
        // unavailable after the dial timeout. 2.1 s and 2.8 s: healed.
        #expect(notes.lines == ["0: timeout", "1: unavailable", "2: ok", "3: ok"], "\(notes.lines)")
    }

    @Test func oneWayPartitionAppliesRequestsButLosesReplies() {
        let notes = Notes()
        let report = Simulation(seed: 2, options: quietOptions()).run { world in
            world.addClient("c1") { node in
                do {
                    _ = try await node.backend.put(PutRequest(key: "applied", value: [1]))
                } catch {
                    notes.add("client saw \(describe(error))")
                }
            }
            world.partition("c1", .fromServer)
            _ = await world.waitForPrograms()
            let stored = try await world.serverRange(RangeRequest(.key("applied")))
            notes.add("server has \(stored.kvs.count) key")
            world.heal("c1", .fromServer)
        }
        #expect(report.passed, "\(report.violations)")
        #expect(notes.lines == ["client saw timeout", "server has 1 key"])
    }

    @Test func brokenConnectionEndsWatchesWithUnavailable() {
        let notes = Notes()
        let report = Simulation(seed: 3, options: quietOptions()).run { world in
            world.addClient("c1") { node in
                let events = try await node.backend.watch(WatchRequest(.prefix("w/")))
                do {
                    for try await response in events { notes.add("event rev \(response.revision)") }
                    notes.add("ended")
                } catch {
                    notes.add("ended with \(describe(error)) at \(node.now)")
                }
            }
            world.addClient("writer") { node in
                try await node.sleep(for: .milliseconds(100))
                for index in 0..<2 { _ = try await node.backend.put(PutRequest(key: Key("w/\(index)"))) }
            }
            try await world.sleep(until: .seconds(1))
            world.partition("c1")
            try await world.sleep(until: .seconds(3))
            world.heal("c1")
            _ = await world.waitForPrograms()
        }
        #expect(report.passed, "\(report.violations)")
        #expect(notes.lines.prefix(2) == ["event rev 2", "event rev 3"])
        #expect(notes.lines.last?.hasPrefix("ended with unavailable at 2.0") == true)
    }

    @Test func crashFreezesWithoutCleanupAndLeasesExpireOnTheServer() {
        let notes = Notes()
        let report = Simulation(seed: 4, options: quietOptions()).run { world in
            world.addClient("c1") { node in
                let lease = try await node.backend.grantLease(ttl: 2, id: nil)
                _ = try await node.backend.put(PutRequest(key: "held", lease: lease.id))
                try await withTaskCancellationHandler {
                    defer { notes.add("defer ran") }
                    try await node.sleep(for: .seconds(3600))
                } onCancel: {
                    notes.add("cancellation handler ran")
                }
            }
            try await world.sleep(until: .seconds(1))
            world.crash("c1")
            #expect(await world.waitForPrograms().isEmpty, "a crashed node's program does not count as unfinished")
            notes.add("held at 1.5 s: \(try await world.serverRange(RangeRequest(.key("held"))).kvs.count)")
            try await world.sleep(until: .seconds(4))
            notes.add("held at 4 s: \(try await world.serverRange(RangeRequest(.key("held"))).kvs.count)")
        }
        #expect(report.passed, "\(report.violations)")
        #expect(notes.lines == ["held at 1.5 s: 1", "held at 4 s: 0"])
    }

    @Test func restartRunsTheProgramAgainAsANewIncarnation() {
        let notes = Notes()
        let report = Simulation(seed: 5, options: quietOptions()).run { world in
            world.addClient("c1") { node in
                notes.add("\(node.label) started at \(node.now)")
                try await node.sleep(for: .seconds(2))
            }
            try await world.sleep(until: .seconds(1))
            world.crash("c1")
            try await world.sleep(until: .seconds(5))
            world.restart("c1")
            _ = await world.waitForPrograms()
        }
        #expect(report.passed, "\(report.violations)")
        #expect(notes.lines == ["c1#1 started at 0.0 seconds", "c1#2 started at 5.0 seconds"])
    }

    @Test func pausedServerDelaysRequestsPastTheirTimeout() {
        let notes = Notes()
        let report = Simulation(seed: 6, options: quietOptions()).run { world in
            world.addClient("c1") { node in
                try await node.sleep(for: .seconds(1))
                do {
                    _ = try await node.backend.put(PutRequest(key: "late"))
                    notes.add("ok")
                } catch {
                    notes.add(describe(error))
                }
            }
            world.pause("server")
            try await world.sleep(until: .seconds(3))
            world.resume("server")
            _ = await world.waitForPrograms()
            try await world.sleep(for: .milliseconds(10))
            notes.add("applied later: \(try await world.serverRange(RangeRequest(.key("late"))).kvs.count)")
        }
        #expect(report.passed, "\(report.violations)")
        #expect(notes.lines == ["timeout", "applied later: 1"])
    }

    @Test func faultPlanFaultsApplyAtTheirTimes() {
        var plan = FaultPlan()
        plan.faults = [
            .pause(node: "c1", at: .seconds(1), duration: .seconds(2)), .drift(node: "c1", ratePPM: 2_000_000),
        ]
        let notes = Notes()
        let report = Simulation(seed: 7, options: quietOptions { $0.faultPlan = plan }).run { world in
            world.addClient("c1") { node in
                for _ in 0..<4 {
                    try await node.sleep(for: .seconds(1))  // half a global second at rate 2
                    notes.add("\(world.now)")
                }
            }
            _ = await world.waitForPrograms()
        }
        #expect(report.passed, "\(report.violations)")
        #expect(notes.lines == ["0.5 seconds", "3.0 seconds", "3.5 seconds", "4.0 seconds"])
    }
}

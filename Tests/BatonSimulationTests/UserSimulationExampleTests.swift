import Baton
import BatonCore
import BatonSimulation
import Testing

// An example of simulating your own code: a seat-reservation service that sells seats from a counter
// in the store, under a DistributedMutex (its data lives outside the lock's `seats/` key prefix: a key
// under it would count as a waiter). Three clients sell concurrently while the simulation pauses
// them past their session TTL; afterwards the invariant must hold: seats sold + seats free == capacity.

/// The user's code under test: sells one seat if any is free.
///
/// With `fenced` the write is `txnIfHeld` (guarded by the lock's fencing token), so a holder whose
/// session expired during a pause cannot write. Without it, a stale holder overwrites a newer holder's
/// update and a sale is lost — the classic bug fencing exists for.
func sellSeat(_ session: Session, buyer: String, fenced: Bool) async throws -> Bool {
    let backend = session.client.backend
    return try await session.mutex("seats").withLock { grant in
        let counter = try await backend.range(RangeRequest(.key("inventory/free")))
        let free = Int(counter.kvs.first?.valueString ?? "0") ?? 0
        guard free > 0 else { return false }
        try await session.client.environment.sleep(for: .milliseconds(300))  // the slow part of a sale
        let writes: [TxnOp] = [
            .put(PutRequest(key: "inventory/free", value: Array("\(free - 1)".utf8))),
            .put(PutRequest(key: Key("inventory/sold/\(buyer)"), value: Array("\(free)".utf8))),
        ]
        if fenced {
            _ = try await grant.txnIfHeld(writes)
        } else {
            _ = try await backend.txn(TxnRequest(success: writes))
        }
        return true
    }
}

/// Simulates three sellers under pause faults; fails the run if seats were lost or oversold.
func simulateSales(seed: UInt64, fenced: Bool) -> SimulationReport {
    let capacity = 40
    var options = SimulationOptions()
    options.faultPlan = FaultPlan.swarm(
        seed: seed,
        shape: FaultPlan.SwarmShape(
            clients: ["c1", "c2", "c3"], horizon: .seconds(20), ttl: .seconds(2), weights: [.pause: 1]))
    return Simulation(seed: seed, options: options).run { world in
        world.addClient("setup") { node in
            _ = try await node.backend.put(PutRequest(key: "inventory/free", value: Array("\(capacity)".utf8)))
        }
        _ = await world.waitForPrograms()
        for name in ["c1", "c2", "c3"] {
            world.addClient(name) { node in
                let client = node.client
                var sale = 0
                while node.now < .seconds(40) {
                    do {
                        let session = try await client.session(ttl: .seconds(2))
                        while session.end == nil {
                            sale += 1
                            guard try await sellSeat(session, buyer: "\(node.label)-\(sale)", fenced: fenced) else {
                                try? await session.close()
                                await client.close()
                                return
                            }
                        }
                    } catch let error as BatonError {
                        node.note("sale failed: \(error.code)")  // lost lock, expired session, timeout: retry
                    }
                }
                await client.close()
            }
        }
        _ = await world.waitForPrograms(within: .seconds(120))
        let free =
            try await world.serverRange(RangeRequest(.key("inventory/free"))).kvs.first.map {
                Int($0.valueString) ?? -1
            } ?? -1
        let sold = try await world.serverRange(RangeRequest(.prefix("inventory/sold/"))).kvs.count
        if free + sold != capacity || free < 0 {
            world.oracles.fail("seats", "\(sold) seats sold and \(free) free out of \(capacity)")
        }
    }
}

struct UserSimulationExampleTests {
    @Test func fencedSalesNeverLoseASeat() async {
        for seed in UInt64(1)...8 {
            let report = await offPool { simulateSales(seed: seed, fenced: true) }
            #expect(report.passed, "seed \(seed) plan \(report.plan): \(report.violations)")
        }
    }

    @Test func unfencedSalesAreCaughtLosingSeats() async {
        var failing: SimulationReport?
        for seed in UInt64(1)...20 {
            let report = await offPool { simulateSales(seed: seed, fenced: false) }
            if !report.passed {
                failing = report
                break
            }
        }
        #expect(
            failing?.violations.map(\.oracle) == ["seats"],
            "pauses past the TTL must make the unfenced version lose a sale")
    }
}

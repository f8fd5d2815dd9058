import Testing

/// `baton simulate`'s arguments: bad ones print usage and exit 2, before anything runs.
@Suite struct SimulateCommandTests {
    @Test func badArgumentsPrintUsage() throws {
        #expect(try baton("simulate", "--parallel", "0").status == 2)
        #expect(try baton("simulate", "--reports", "-1").status == 2)
        #expect(try baton("simulate", "--shrink-budget", "-1").status == 2)
        #expect(try baton("simulate", "--seeds", "ten").status == 2)
        #expect(try baton("simulate", "--scenario", "nonesuch").status == 2)
        // Seeds past the top of UInt64 used to crash the tool (the range's end overflowed).
        #expect(try baton("simulate", "--start-seed", "\(UInt64.max)", "--seeds", "2").status == 2)
    }

    /// The last seeds of UInt64 run, and a lane's step past the last one does not overflow.
    @Test func theTopSeedsRun() throws {
        let (status, lines) = try baton(
            "simulate", "--scenario", "expiry", "--start-seed", "\(UInt64.max - 2)", "--seeds", "3", "--parallel", "2")
        #expect(status == 0)
        #expect(lines.contains { $0.hasPrefix("expiry: 3 seeds, 0 failed") }, "\(lines)")
    }
}

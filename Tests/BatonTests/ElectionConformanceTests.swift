import Baton
import BatonCore
import Testing

/// The election recipe's contract, run against every backend.
@Suite struct ElectionConformanceTests {
    @Test(arguments: BackendKind.allCases)
    func oneLeaderAtATimeAndResignHandsOver(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let a = try await h.session(), b = try await h.session()
        let first = try await a.election("e").campaign("a")
        let second = Task { try await b.election("e").campaign("b") }
        try await h.waitForKeys("e/", count: 2)
        let election = try a.election("e")
        #expect(try await election.leader().valueString == "a")
        #expect(try await election.members().map(\.valueString) == ["a", "b"])
        try await first.resign()
        let leadership = try await second.value
        #expect(leadership.term > first.term)
        #expect(try await election.leader().valueString == "b")
        await expectBatonError(.notLeader) { try await first.proclaim("stale") }
        await expectBatonError(.notLeader) { try await first.resign() }
        try await leadership.resign()
        await expectBatonError(.noLeader) { try await election.leader() }
        await h.close()
    }

    @Test(arguments: BackendKind.allCases)
    func observeSeesEveryChangeInOrder(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let watcher = try await h.session()
        var events = try watcher.election("obs").observe().makeAsyncIterator()
        guard case .noLeader = try await events.next() else { Issue.record("expected no leader first"); return }

        let a = try await h.session(), b = try await h.session()
        let leaderA = try await a.election("obs").campaign("a1")
        let campaignB = Task { try await b.election("obs").campaign("b1") }
        try await h.waitForKeys("obs/", count: 2)
        try await leaderA.proclaim("a2")
        try await leaderA.resign()
        let leaderB = try await campaignB.value
        try await leaderB.resign()

        var seen: [String] = []
        for _ in 0..<4 {
            switch try await events.next() {
            case .leader(let kv)?: seen.append("\(kv.valueString)@\(kv.createRevision)")
            case .noLeader?: seen.append("none")
            case nil: seen.append("end")
            }
        }
        #expect(seen == ["a1@\(leaderA.term)", "a2@\(leaderA.term)", "b1@\(leaderB.term)", "none"])
        await h.close()
    }

    @Test(arguments: BackendKind.allCases)
    func proclaimUpdatesTheValueUnderTheSameTerm(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let leadership = try await h.session().election("p").campaign("v1")
        try await leadership.proclaim("v2")
        let leader = try await leadership.election.leader()
        #expect(leader.valueString == "v2" && leader.createRevision == leadership.term)
        try await leadership.resign()
        await h.close()
    }

    @Test(arguments: BackendKind.allCases)
    func cancellingACampaignLeavesNoCandidate(_ kind: BackendKind) async throws {
        let h = try await Harness(kind)
        let leader = try await h.session().election("c").campaign("x")
        let other = try await h.session()
        let campaign = Task { try await other.election("c").campaign("y") }
        try await h.waitForKeys("c/", count: 2)
        campaign.cancel()
        await #expect(throws: CancellationError.self) { try await campaign.value }
        #expect(try await leader.election.members().map(\.valueString) == ["x"])
        try await leader.resign()
        await h.close()
    }
}

import Baton
import BatonTestSupport
import Testing

/// Baton's mutex and election against etcd's own client, `etcdctl lock` and `etcdctl elect`, on the
/// same names: they exclude each other and agree on one leader, because Baton writes etcd's key
/// layout (`NAME/<lease hex>`, owner = lowest create revision).
///
/// Names: Baton percent-encodes `/` (and `%`) in a lock or election name, so that Baton's lock `a`
/// (keys `a/…`) never waits on holders of Baton's `a/b` (keys `a%2Fb/…`) — the prefix collision etcd's
/// own recipe has. A plain name (no `/`, no `%`) is therefore the same lock for both clients, but a
/// name with `/` is not: `etcdctl lock jobs/x` uses keys `jobs/x/…`. For directory-style names shared
/// with etcd's clients, put the directory in the client's key prefix — the connection option
/// `prefix=jobs/` — and use the last part as the name (see ``directoryNamesGoInThePrefix()``).
///
/// Every wait is bounded and event-driven: on etcdctl's output, its exit, or a Baton watch of the
/// keys — never on a sleep.
@Suite(.enabled(if: EtcdServer.isEnabled)) struct InteropTests {
    /// `NAME/<hex> <rev>` as printed by the lock command below: the key and its create revision.
    private func keyAndRevision(_ line: String) throws -> (key: String, revision: Int64) {
        let parts = line.split(separator: " ")
        guard parts.count == 2, let revision = Int64(parts[1]) else { throw HarnessError("unexpected line '\(line)'") }
        return (String(parts[0]), revision)
    }

    @Test func batonWaitsWhileEtcdctlHoldsTheLock() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gate = try ShellGate()
        // etcdctl holds the lock while its command runs: until the test opens the gate.
        let holder = try EtcdctlProcess.start(
            etcd, "lock", "shared", "--", "sh", "-c", #"echo "$ETCD_LOCK_KEY $ETCD_LOCK_REV"; "# + gate.waitCommand)
        defer { holder.kill() }
        let held = try keyAndRevision(try await holder.line(0))
        #expect(held.key.hasPrefix("shared/"))

        let client = try await BatonClient.connect(etcd.connectionString())
        defer { Task { await client.close() } }
        let session = try await client.session(ttl: .seconds(10))
        let mutex = try session.mutex("shared")
        await expectBatonError(.locked, within: .seconds(5), "tryLock while etcdctl holds") {
            try await mutex.tryLock()
        }
        #expect(try await keys(client.backend, "shared/") == [held.key])  // tryLock left no key behind

        // Baton queues behind etcdctl; once it holds, it looks whether etcdctl's key is still there.
        let backend = client.backend
        let waiter = Task {
            let grant = try await mutex.lock()
            let etcdctlKeyLeft = try await backend.range(RangeRequest(.key(Key(held.key)))).count
            return (grant, etcdctlKeyLeft)
        }
        let queued = try await waitForKeys(backend, "shared/", count: 2)
        #expect(queued.first == held.key)
        // Only now does etcdctl's command end: a grant that came earlier would see its key.
        try await gate.open()
        let (grant, etcdctlKeyLeft) = try await bounded(.seconds(10), "Baton's lock after etcdctl's release") {
            try await waiter.value
        }
        #expect(etcdctlKeyLeft == 0)
        #expect(grant.fencingToken > held.revision)
        #expect(try await holder.exitStatus() == 0)
        try await grant.unlock()
        #expect(try await keys(backend, "shared/").isEmpty)
    }

    @Test func etcdctlWaitsWhileBatonHoldsTheLock() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let client = try await BatonClient.connect(etcd.connectionString())
        defer { Task { await client.close() } }
        let session = try await client.session(ttl: .seconds(10))
        let grant = try await session.mutex("shared").lock()

        // Once etcdctl holds, its command lists the keys under the name: Baton's must be gone by then.
        let etcdctl = try #require(EtcdServer.etcdctlBinary)
        let waiter = try EtcdctlProcess.start(
            etcd, "lock", "shared", "--", "sh", "-c",
            #"echo "$ETCD_LOCK_KEY $ETCD_LOCK_REV"; "#
                + "'\(etcdctl)' --endpoints=\(etcd.clientURL) get --prefix shared/ --keys-only")
        defer { waiter.kill() }
        let queued = try await waitForKeys(client.backend, "shared/", count: 2)
        #expect(queued.first == grant.key.description)
        #expect(waiter.lines.isEmpty && waiter.isRunning, "etcdctl must still be waiting: \(waiter.lines)")

        try await grant.unlock()
        #expect(try await waiter.exitStatus() == 0)
        let output = waiter.lines.filter { !$0.isEmpty }
        let acquired = try keyAndRevision(try #require(output.first))
        #expect(acquired.key == queued.last)
        #expect(acquired.revision > grant.fencingToken)
        #expect(Array(output.dropFirst()) == [acquired.key], "keys while etcdctl held the lock: \(output)")
        #expect(try await keys(client.backend, "shared/").isEmpty)
    }

    @Test func batonAndEtcdctlElectOneLeaderAndSeeEachOthersProclamations() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        // etcdctl's observer prints every leader's key and value, in order.
        let observer = try EtcdctlProcess.start(etcd, "elect", "-l", "vote")
        defer { observer.kill() }
        let first = try EtcdctlProcess.start(etcd, "elect", "vote", "ctl-1")
        defer { first.kill() }
        let firstKey = try await first.line(0)
        #expect(try await first.line(1) == "ctl-1")

        let client = try await BatonClient.connect(etcd.connectionString())
        defer { Task { await client.close() } }
        let session = try await client.session(ttl: .seconds(10))
        let election = try session.election("vote")
        #expect(try await election.leader().valueString == "ctl-1")
        // Baton's observer records every change of leadership as `key=value` (or `none`).
        let observed = Observed<[String]>([])
        let observing = Task {
            for try await event in election.observe() {
                switch event {
                case .leader(let kv): observed.update { $0.append("\(kv.key)=\(kv.valueString)") }
                case .noLeader: observed.update { $0.append("none") }
                }
            }
        }
        defer { observing.cancel() }
        func observedLeaders(_ count: Int) async throws -> [String] {
            try await observed.wait(within: .seconds(10), for: "\(count) leader events") {
                $0.count >= count ? $0 : nil
            }
        }
        #expect(try await observedLeaders(1) == ["\(firstKey)=ctl-1"])

        // Baton campaigns behind etcdctl and leads once etcdctl resigns (SIGINT).
        let campaign = Task { try await election.campaign("baton-1") }
        let candidates = try await waitForKeys(client.backend, "vote/", count: 2)
        #expect(try await election.leader().valueString == "ctl-1")
        first.interrupt()
        #expect(try await first.exitStatus() == 0)
        let leadership = try await bounded(.seconds(10), "Baton's campaign after etcdctl resigned") {
            try await campaign.value
        }
        #expect(leadership.key.description == candidates[1])
        #expect(try await observedLeaders(2).last == "\(leadership.key)=baton-1")

        // etcdctl's observer sees Baton lead and proclaim. (It re-reads the leader after each change
        // of leader, so a proclamation made before it caught up would replace the first value rather
        // than follow it: wait for it to print the first one. Baton's observe() never skips.)
        #expect(try await observer.line(2) == leadership.key.description)
        #expect(try await observer.line(3) == "baton-1")
        try await leadership.proclaim("baton-2")
        #expect(try await observedLeaders(3).last == "\(leadership.key)=baton-2")
        #expect(try await observer.line(5) == "baton-2")
        #expect(
            Array(observer.lines.prefix(6)) == [
                firstKey, "ctl-1", leadership.key.description, "baton-1", leadership.key.description, "baton-2",
            ])

        // The other way round: etcdctl campaigns behind Baton and is elected only once Baton resigns.
        let second = try EtcdctlProcess.start(etcd, "elect", "vote", "ctl-2")
        defer { second.kill() }
        let queued = try await waitForKeys(client.backend, "vote/", count: 2)
        #expect(second.lines.isEmpty, "etcdctl must still be campaigning: \(second.lines)")
        try await leadership.resign()
        #expect(try await second.line(0) == queued[1])
        #expect(try await second.line(1) == "ctl-2")
        #expect(try await observedLeaders(4).last == "\(queued[1])=ctl-2")
        #expect(try await observer.line(7) == "ctl-2")
        #expect(try await election.leader().valueString == "ctl-2")
        second.interrupt()
        #expect(try await second.exitStatus() == 0)
        #expect(try await observedLeaders(5).last == "none")
        #expect(observed.value.count == 5, "no leader change was skipped or repeated: \(observed.value)")
        observer.interrupt()
    }

    @Test func directoryNamesGoInThePrefix() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.destroy() }
        let gate = try ShellGate()
        let holder = try EtcdctlProcess.start(
            etcd, "lock", "jobs/x", "--", "sh", "-c", #"echo "$ETCD_LOCK_KEY"; "# + gate.waitCommand)
        defer { holder.kill() }
        let held = try await holder.line(0)

        // With `prefix=jobs/`, Baton's lock `x` is etcdctl's lock `jobs/x`.
        let prefixed = try await BatonClient.connect(etcd.connectionString("prefix=jobs/"))
        defer { Task { await prefixed.close() } }
        let mutex = try await prefixed.session(ttl: .seconds(10)).mutex("x")
        await expectBatonError(.locked, within: .seconds(5), "tryLock on jobs/x while etcdctl holds") {
            try await mutex.tryLock()
        }

        // Without it, Baton's name `jobs/x` is escaped: a different lock, which does not collide.
        let plain = try await BatonClient.connect(etcd.connectionString())
        defer { Task { await plain.close() } }
        let other = try await plain.session(ttl: .seconds(10)).mutex("jobs/x").tryLock()
        #expect(other.key.description.hasPrefix("jobs%2Fx/"))
        try await other.unlock()

        try await gate.open()
        #expect(try await holder.exitStatus() == 0)
        let grant = try await mutex.tryLock()
        #expect(grant.key.description.hasPrefix("jobs/x/"))
        #expect(grant.key.description != held)
        try await grant.unlock()
    }
}

import BatonEtcd
import Foundation

/// A cluster of real etcd members on loopback (three by default), each an ``EtcdServer``.
///
/// Members start together (they must elect a leader) and are healthy after ~2 s. Kill or pause a
/// member through ``members``; ``leader()`` says which member leads now.
public final class EtcdCluster: Sendable {
    /// The members, in start order (`m1`, `m2`, …).
    public let members: [EtcdServer]

    init(members: [EtcdServer]) { self.members = members }

    /// The client URLs of all members, in order.
    public var clientURLs: [String] { members.map(\.clientURL) }

    /// Starts `size` members with a fresh cluster token and waits until every one is healthy.
    ///
    /// - Throws: ``HarnessError`` when etcd is missing or the cluster does not come up (retried
    ///   twice with fresh ports).
    public static func start(size: Int = 3, extraArguments: [String] = []) async throws -> EtcdCluster {
        var lastError: any Error = HarnessError("the etcd cluster did not start")
        for _ in 0..<3 {
            let ports = try FreePort.claim(2 * size)  // each member's destroy() releases its two
            let names = (1...size).map { "m\($0)" }
            let initial = names.indices.map { "\(names[$0])=http://127.0.0.1:\(ports[size + $0])" }
                .joined(separator: ",")
            let token = "baton-\(UInt32.random(in: 0...UInt32.max))"
            let directories: [URL]
            do {
                directories = try names.map { _ in try EtcdServer.makeDirectory() }
            } catch {
                FreePort.release(ports)
                throw error
            }
            let members = names.indices.map { index in
                EtcdServer(
                    name: names[index], clientPort: ports[index], peerPort: ports[size + index],
                    directory: directories[index],
                    clusterArguments: [
                        "--initial-cluster", initial, "--initial-cluster-token", token,
                        "--initial-cluster-state", "new",
                    ], extraArguments: extraArguments)
            }
            let cluster = EtcdCluster(members: members)
            do {
                for member in members { try member.launch() }
                for member in members { try await member.waitUntilHealthy(timeout: .seconds(30)) }
                return cluster
            } catch {
                cluster.destroy()
                lastError = error
            }
        }
        throw lastError
    }

    /// A configuration listing every member, with short timeouts suited to tests.
    public func configuration(
        dialTimeout: Duration = .seconds(1), requestTimeout: Duration = .seconds(5)
    ) -> EtcdConfiguration {
        EtcdConfiguration(endpoints: clientURLs, dialTimeout: dialTimeout, requestTimeout: requestTimeout)
    }

    /// Waits until a running member reports itself the raft leader (after a leader was killed, ~1.3 s
    /// here), asking every 50 ms, at most `timeout`. - Returns: the leader, or `nil` on time-out.
    public func waitForLeader(within timeout: Duration = .seconds(10)) async -> EtcdServer? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let leader = await leader() { return leader }
            try? await Task.sleep(for: .milliseconds(50))  // readiness polling of a real process, bounded
        }
        return nil
    }

    /// The member that is the raft leader now, asked of the running members
    /// (`POST /v3/maintenance/status`); `nil` when none answers with a leader.
    public func leader() async -> EtcdServer? {
        for member in members where member.isRunning {
            guard
                let reply = await LoopbackHTTP.request(
                    URL(string: member.clientURL + "/v3/maintenance/status")!, method: "POST", body: Data("{}".utf8)),
                reply.status == 200,
                let object = try? JSONSerialization.jsonObject(with: reply.body) as? [String: Any],
                let leader = object["leader"] as? String,
                let header = object["header"] as? [String: Any],
                let memberID = header["member_id"] as? String
            else { continue }
            if leader == memberID { return member }
        }
        return nil
    }

    /// Stops every member gracefully (in parallel) and keeps their data.
    public func stop() async {
        await withTaskGroup(of: Void.self) { group in
            for member in members { group.addTask { await member.stop() } }
        }
    }

    /// Kills every member and deletes their directories.
    public func destroy() {
        for member in members { member.destroy() }
    }
}

import BatonEtcd
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real `etcd` process for tests: loopback only, free ports, a fresh temporary data directory.
///
/// ```swift
/// @Suite(.enabled(if: EtcdServer.isEnabled), .serialized) struct MyTests {
///     @Test func something() async throws {
///         let etcd = try await EtcdServer.start()
///         defer { etcd.destroy() }
///         let gateway = try etcd.gateway()
///         …
///     }
/// }
/// ```
///
/// Without an `etcd` binary, ``isEnabled`` is false (tests are skipped) unless the environment has
/// `CI=true`: then ``start(name:extraArguments:)`` throws and the test fails, so CI cannot pass by
/// silently skipping.
public final class EtcdServer: Sendable, CustomStringConvertible {
    /// The member name (`--name`).
    public let name: String
    /// The client URL, `http://127.0.0.1:<port>`.
    public let clientURL: String
    /// The client port.
    public let clientPort: Int
    /// The peer port.
    public let peerPort: Int
    /// The temporary directory holding the data directory and the log.
    public let directory: URL
    /// The cluster flags (`--initial-cluster …`) this member starts with.
    let clusterArguments: [String]
    let extraArguments: [String]

    private struct State {
        var process: Process?
        var startCount = 0
    }
    private let state = Mutex(State())

    /// The `etcd` binary: `$ETCD_BINARY`, else the first `etcd` on `PATH`, else `/usr/bin/etcd`.
    public static let binary: String? = locate("etcd", override: "ETCD_BINARY")
    /// The `etcdctl` binary, found the same way (`$ETCDCTL_BINARY`).
    public static let etcdctlBinary: String? = locate("etcdctl", override: "ETCDCTL_BINARY")
    /// Whether the environment says this is CI (`CI=true`).
    public static let isCI = ProcessInfo.processInfo.environment["CI"]?.lowercased() == "true"
    /// Whether tests that need etcd should run: etcd is installed, or this is CI (where a missing
    /// etcd must fail the tests rather than skip them).
    public static let isEnabled = binary != nil || isCI

    private static func locate(_ tool: String, override: String) -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment[override], FileManager.default.isExecutableFile(atPath: path) { return path }
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        return path.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init(
        name: String, clientPort: Int, peerPort: Int, directory: URL, clusterArguments: [String],
        extraArguments: [String]
    ) {
        self.name = name
        self.clientPort = clientPort
        self.peerPort = peerPort
        self.clientURL = "http://127.0.0.1:\(clientPort)"
        self.directory = directory
        self.clusterArguments = clusterArguments
        self.extraArguments = extraArguments
    }

    deinit { destroy() }

    /// `etcd <name> at <client URL> (pid <pid>)`.
    public var description: String { "etcd \(name) at \(clientURL) (pid \(pid.map(String.init) ?? "none"))" }

    /// Starts a single-member etcd and waits until `/health` says true (at most 20 s).
    ///
    /// Tries fresh ports up to three times if the process exits early (a port was taken meanwhile).
    ///
    /// - Throws: ``HarnessError`` when `etcd` is missing (the CI case) or never becomes healthy.
    public static func start(name: String = "n1", extraArguments: [String] = []) async throws -> EtcdServer {
        var lastError: any Error = HarnessError("etcd did not start")
        for _ in 0..<3 {
            let ports = try FreePort.claim(2)  // released by destroy()
            let directory: URL
            do {
                directory = try makeDirectory()
            } catch {
                FreePort.release(ports)
                throw error
            }
            let peer = "http://127.0.0.1:\(ports[1])"
            let server = EtcdServer(
                name: name, clientPort: ports[0], peerPort: ports[1], directory: directory,
                clusterArguments: ["--initial-cluster", "\(name)=\(peer)"], extraArguments: extraArguments)
            do {
                try server.launch()
                try await server.waitUntilHealthy()
                return server
            } catch {
                server.destroy()
                lastError = error
            }
        }
        throw lastError
    }

    static func makeDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent(
                "baton-etcd-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The data directory (`--data-dir`), kept across ``restart()``.
    public var dataDirectory: URL { directory.appendingPathComponent("data") }
    /// etcd's log (stdout and stderr of every start).
    public var logFile: URL { directory.appendingPathComponent("etcd.log") }

    /// Starts the process without waiting for health.
    func launch() throws {
        guard let binary = Self.binary else {
            throw HarnessError("the etcd binary is not installed (apt-get install etcd-server etcd-client)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        let peer = "http://127.0.0.1:\(peerPort)"
        process.arguments =
            [
                "--name", name, "--data-dir", dataDirectory.path,
                "--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            ] + clusterArguments + extraArguments
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logFile)
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        state.withLock { state in
            state.process = process
            state.startCount += 1
        }
    }

    /// The process ID while running.
    public var pid: Int32? {
        state.withLock { state in state.process.flatMap { $0.isRunning ? $0.processIdentifier : nil } }
    }

    /// Whether the process is running (a paused process is running).
    public var isRunning: Bool { pid != nil }

    /// Polls `/health` every 20 ms until it answers `"health":"true"`.
    ///
    /// - Throws: ``HarnessError`` with the log's tail when the process exits or `timeout` passes.
    public func waitUntilHealthy(timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        let url = URL(string: clientURL + "/health")!
        while ContinuousClock.now < deadline {
            guard isRunning else { throw HarnessError("\(self) exited during start-up:\n\(logTail())") }
            if let reply = await LoopbackHTTP.request(url, timeout: 1),
                String(decoding: reply.body, as: UTF8.self).contains("\"true\"")
            {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError("\(self) not healthy after \(timeout):\n\(logTail())")
    }

    /// The last lines of the log, for failure messages.
    public func logTail(lines: Int = 15) -> String {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    private func signal(_ signal: Int32) {
        if let pid { Glibc.kill(pid, signal) }
    }

    /// Waits (polling every 20 ms) until the process has exited; returns whether it did in time.
    private func waitForExit(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Stops etcd gracefully: SIGTERM, up to 12 s to exit (a leader whose peers are gone tries to
    /// hand over leadership for ~7 s), then SIGKILL. Keeps the data directory for ``restart()``.
    public func stop() async {
        signal(SIGTERM)
        if await !waitForExit(within: .seconds(12)) {
            signal(SIGKILL)
            _ = await waitForExit(within: .seconds(5))
        }
    }

    /// Kills etcd with SIGKILL (a crash: no shutdown frame, connections just cut) and waits for it
    /// to exit. Keeps the data directory.
    public func kill() async {
        signal(SIGCONT)
        signal(SIGKILL)
        _ = await waitForExit(within: .seconds(5))
    }

    /// Freezes etcd with SIGSTOP: it keeps its sockets but answers nothing. Returns once the kernel
    /// reports the process stopped (a signal is delivered asynchronously: a request sent right
    /// after `kill` could still be served).
    public func pause() {
        signal(SIGSTOP)
        guard let pid else { return }
        for _ in 0..<100_000 {
            if Self.isStopped(pid) { return }
        }
    }

    /// Whether `/proc` shows the process stopped (state `T`), or gone.
    private static func isStopped(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return true }
        return stat[end...].dropFirst(2).first == "T"
    }

    /// Thaws etcd with SIGCONT after ``pause()``.
    public func resume() { signal(SIGCONT) }

    /// Starts etcd again on the same ports and data directory (stopping it first if running) and
    /// waits until healthy. A cluster member needs a quorum of running members to become healthy;
    /// use ``restart(waitForHealth:)`` with `false` to restart members one by one.
    ///
    /// - Throws: ``HarnessError`` when it does not come back.
    public func restart(waitForHealth: Bool = true) async throws {
        if isRunning { await stop() }
        try launch()
        if waitForHealth { try await waitUntilHealthy() }
    }

    /// Kills the process if running, gives its ports back and deletes the temporary directory. Safe
    /// to call repeatedly; also done on deinit.
    public func destroy() {
        let process = state.withLock { state in
            defer { state.process = nil }
            return state.process
        }
        if let process, process.isRunning {
            Glibc.kill(process.processIdentifier, SIGCONT)
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        FreePort.release([clientPort, peerPort])
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: - Clients

    /// A configuration for this server, with timeouts suited to tests. The dial timeout also bounds the
    /// probe of an endpoint after a failure (a restart, say); it leaves room for CPU-bound suites of
    /// the same test process, which can keep the cooperative pool busy for seconds. (At 2 s, a probe
    /// of a healthy, just-restarted etcd timed out once in a full run.)
    public func configuration(
        dialTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(5), username: String? = nil,
        password: String? = nil
    ) -> EtcdConfiguration {
        EtcdConfiguration(
            endpoints: [clientURL], dialTimeout: dialTimeout, requestTimeout: requestTimeout, username: username,
            password: password)
    }

    /// A gateway for this server.
    public func gateway(requestTimeout: Duration = .seconds(5)) throws -> EtcdGateway {
        try EtcdGateway(configuration: configuration(requestTimeout: requestTimeout))
    }

    /// Runs `etcdctl` against this server and returns its standard output.
    ///
    /// - Throws: ``HarnessError`` with its output when it exits non-zero or is missing.
    @discardableResult
    public func etcdctl(_ arguments: String...) throws -> String {
        try Self.runEtcdctl(["--endpoints=\(clientURL)"] + arguments)
    }

    static func runEtcdctl(_ arguments: [String]) throws -> String {
        guard let binary = etcdctlBinary else { throw HarnessError("etcdctl is not installed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--dial-timeout=3s", "--command-timeout=5s"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["ETCDCTL_API"] = "3"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw HarnessError("etcdctl \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    /// The value of a Prometheus metric from `/metrics` (the first sample of that name), if present.
    public func metric(_ name: String) async -> Double? {
        guard let reply = await LoopbackHTTP.request(URL(string: clientURL + "/metrics")!, timeout: 2) else {
            return nil
        }
        for line in String(decoding: reply.body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == name { return Double(parts[1]) }
        }
        return nil
    }

    /// Polls ``metric(_:)`` every 20 ms until `predicate` holds; returns the last value read.
    ///
    /// The only waiting the etcd tests do besides start-up: server-side effects of a client action
    /// (a watch closed by a disconnect) become visible asynchronously.
    public func waitForMetric(
        _ name: String, within timeout: Duration = .seconds(10), until predicate: (Double) -> Bool
    ) async -> Double? {
        let deadline = ContinuousClock.now + timeout
        var value = await metric(name)
        while !(value.map(predicate) ?? false), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            value = await metric(name)
        }
        return value
    }
}

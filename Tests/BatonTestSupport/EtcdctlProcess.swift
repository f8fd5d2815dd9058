import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A long-running `etcdctl` (`lock`, `elect`, `elect -l`) whose output is read line by line as it
/// arrives, for interoperability tests.
///
/// ```swift
/// let holder = try EtcdctlProcess.start(etcd, "lock", "jobs")   // prints the key once it holds
/// let key = try await holder.line(0)
/// holder.interrupt()                                             // SIGINT: unlock and exit
/// #expect(try await holder.exitStatus() == 0)
/// ```
///
/// Every wait is bounded: on a timeout the waiting call throws ``HarnessError`` with the output so
/// far. The process is killed when this object goes away.
public final class EtcdctlProcess: Sendable, CustomStringConvertible {
    /// The arguments after `--endpoints`.
    public let arguments: [String]
    private let process: Process
    private let output = Observed(Output())

    /// What the process printed and how it ended.
    private struct Output {
        var lines: [String] = []
        var partial = Data()
        var ended = false
        var exitStatus: Int32?
    }

    private init(arguments: [String], process: Process) {
        self.arguments = arguments
        self.process = process
    }

    deinit { kill() }

    public var description: String { "etcdctl \(arguments.joined(separator: " "))" }

    /// Starts `etcdctl --endpoints=<endpoints> <arguments…>` with `ETCDCTL_API=3`, its standard
    /// output and error read together.
    ///
    /// - Throws: ``HarnessError`` when `etcdctl` is not installed or does not start.
    public static func start(
        endpoints: [String], _ arguments: [String], environment extra: [String: String] = [:]
    ) throws -> EtcdctlProcess {
        guard let binary = EtcdServer.etcdctlBinary else { throw HarnessError("etcdctl is not installed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--endpoints=\(endpoints.joined(separator: ","))", "--dial-timeout=3s"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["ETCDCTL_API"] = "3"
        environment.merge(extra) { $1 }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let child = EtcdctlProcess(arguments: arguments, process: process)
        process.terminationHandler = { [weak child] process in child?.exited(process.terminationStatus) }
        try process.run()
        // Blocking reads on a thread of its own until the end of the output, not a readability handler:
        // FileHandle closes its descriptor without waiting for the handler's Dispatch source to be
        // cancelled, the pattern that can crash Dispatch's event loop on Linux.
        let reader = output.fileHandleForReading
        Thread { [weak child] in
            while true {
                let data = reader.availableData
                child?.received(data)
                if data.isEmpty { return }
            }
        }.start()
        return child
    }

    /// Starts `etcdctl` against `server`.
    public static func start(_ server: EtcdServer, _ arguments: String..., environment: [String: String] = [:]) throws
        -> EtcdctlProcess
    {
        try start(endpoints: [server.clientURL], arguments, environment: environment)
    }

    /// Every complete line printed so far.
    public var lines: [String] { output.value.lines }

    /// Whether the process is still running (a stopped process is running).
    public var isRunning: Bool { process.isRunning }

    /// The process ID.
    public var pid: Int32 { process.processIdentifier }

    /// Waits for the output line at `index` (counting from 0) and returns it.
    ///
    /// - Throws: ``HarnessError`` when the output ends first or `timeout` passes.
    public func line(_ index: Int, within timeout: Duration = .seconds(10)) async throws -> String {
        do {
            let line = try await output.wait(within: timeout, for: "line \(index)") { output -> String?? in
                if output.lines.count > index { return .some(output.lines[index]) }
                return output.ended ? .some(nil) : nil
            }
            guard let line else { throw HarnessError("the output ended before line \(index)") }
            return line
        } catch {
            throw HarnessError("\(self): \(error); output:\n\(lines.joined(separator: "\n"))")
        }
    }

    /// Waits until the process has exited and its output ended, and returns its exit status.
    ///
    /// - Throws: ``HarnessError`` when `timeout` passes first (the process is left running).
    @discardableResult
    public func exitStatus(within timeout: Duration = .seconds(10)) async throws -> Int32 {
        do {
            return try await output.wait(within: timeout, for: "exit") { output in
                guard let status = output.exitStatus, output.ended else { return nil }
                return status
            }
        } catch {
            throw HarnessError("\(self): \(error); output:\n\(lines.joined(separator: "\n"))")
        }
    }

    /// Sends SIGINT: `etcdctl lock` unlocks and exits, `etcdctl elect` resigns and exits.
    public func interrupt() { signal(SIGINT) }

    /// Kills the process with SIGKILL if it is still running (its session is simply abandoned).
    public func kill() {
        signal(SIGCONT)
        signal(SIGKILL)
    }

    private func signal(_ number: Int32) {
        if process.isRunning { Glibc.kill(process.processIdentifier, number) }
    }

    // MARK: - Output and exit, from Foundation's threads

    private func received(_ data: Data) {
        output.update { output in
            if data.isEmpty {
                output.ended = true
                if !output.partial.isEmpty { output.lines.append(String(decoding: output.partial, as: UTF8.self)) }
                output.partial = Data()
                return
            }
            output.partial.append(data)
            while let newline = output.partial.firstIndex(of: UInt8(ascii: "\n")) {
                output.lines.append(
                    String(decoding: output.partial[output.partial.startIndex..<newline], as: UTF8.self))
                output.partial = Data(output.partial[(newline + 1)...])
            }
        }
    }

    private func exited(_ status: Int32) {
        output.update { $0.exitStatus = status }
    }
}

/// A named pipe that a shell command blocks on until the test opens it: the way to hold
/// `etcdctl lock NAME -- CMD` for exactly as long as a test needs (etcdctl gives CMD no stdin).
///
/// ```swift
/// let gate = try ShellGate()
/// let holder = try EtcdctlProcess.start(etcd, "lock", "jobs", "--", "sh", "-c", "echo held; \(gate.waitCommand)")
/// …
/// try await gate.open()   // CMD ends, etcdctl unlocks and exits
/// ```
public final class ShellGate: Sendable {
    /// The FIFO's path.
    public let path: String
    private let directory: URL

    /// Creates the FIFO in a fresh temporary directory.
    ///
    /// - Throws: ``HarnessError`` when it cannot be created.
    public init() throws {
        directory = try EtcdServer.makeDirectory()
        path = directory.appendingPathComponent("gate").path
        guard mkfifo(path, 0o600) == 0 else { throw HarnessError("mkfifo \(path) failed: errno \(errno)") }
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// A shell command that blocks until ``open(within:)``.
    public var waitCommand: String { "read _ < '\(path)'" }

    /// Lets the blocked command go on: writes a line to the FIFO once its reader has opened it.
    ///
    /// - Throws: ``HarnessError`` when no reader opens the FIFO within `timeout`.
    public func open(within timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            // Non-blocking: fails with ENXIO until the reader is there, so a missing reader
            // cannot hang the test.
            let fd = Glibc.open(path, O_WRONLY | O_NONBLOCK)
            if fd >= 0 {
                _ = Glibc.write(fd, "\n", 1)
                Glibc.close(fd)
                return
            }
            guard errno == ENXIO, ContinuousClock.now < deadline else {
                throw HarnessError("nobody read the gate \(path) within \(timeout) (errno \(errno))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

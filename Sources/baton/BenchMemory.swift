import Baton
import Foundation

/// Resident memory per held lock and per queued waiter.
///
/// Each measurement runs in a fresh child process (`baton bench memory-probe KIND COUNT`), so memory
/// freed by an earlier benchmark cannot be reused and hide growth, and so the child can exit without
/// tearing 100,000 waiters down. The child reads `/proc/self/statm` before and after creating `COUNT`
/// items and prints `key=bytes-per-item` lines.
enum MemoryBench {
    /// What a probe creates.
    enum Kind: String, CaseIterable {
        /// One session holding `count` locks on distinct names.
        case held
        /// `count` sessions, then one waiter per session queued on one held name.
        case waiters
        /// As ``waiters``, each waiting in `withLock` rather than `lock()`: the call most code makes,
        /// whose frame the waiting task keeps too.
        case waitersInWithLock = "waiters-withlock"
        /// `count` held ``FloorMutex``es.
        case floorHeld = "floor-held"
        /// `count` tasks queued on one held ``FloorMutex``.
        case floorWaiters = "floor-waiters"
    }

    /// Runs a probe in a child process and returns its `key=value` figures.
    static func measure(_ kind: Kind, count: Int) throws -> [String: Double] {
        let process = Process()
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["bench", "memory-probe", kind.rawValue, String(count)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchFailure("memory probe \(kind.rawValue) exited with status \(process.terminationStatus)")
        }
        var figures: [String: Double] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { figures[String(parts[0])] = value }
        }
        return figures
    }

    /// The child's side: creates the items, prints bytes per item, and returns without cleaning up
    /// (the process exits right after).
    static func probe(_ arguments: [String]) async -> Int32 {
        guard arguments.count == 2, let kind = Kind(rawValue: arguments[0]), let count = Int(arguments[1]), count > 0
        else {
            print("usage: baton bench memory-probe \(Kind.allCases.map(\.rawValue).joined(separator: "|")) COUNT")
            return 2
        }
        do {
            for (key, value) in try await run(kind, count: count) { print("\(key)=\(value)") }
            return 0
        } catch {
            print("error=\(error)")
            return 1
        }
    }

    private static func run(_ kind: Kind, count: Int) async throws -> [(String, Double)] {
        func perItem(_ before: Int) -> Double { Double(BenchProcess.residentBytes() - before) / Double(count) }
        switch kind {
        case .held:
            let session = try await BatonClient.connect("local:").session()
            var grants: [LockGrant] = []
            grants.reserveCapacity(count)
            await BenchProcess.waitUntilIdle()
            let before = BenchProcess.residentBytes()
            for index in 0..<count { grants.append(try await session.mutex("held-\(index)").lock()) }
            await BenchProcess.waitUntilIdle()
            return [("held", perItem(before))]
        case .waiters, .waitersInWithLock:
            let waiting = WaitingCounter()
            let environment = BatonEnvironment(events: waiting.sink)
            let client = BatonClient(backend: LocalStore(environment: environment), environment: environment)
            _ = try await client.session().mutex("queue").lock()
            var mutexes: [DistributedMutex] = []
            mutexes.reserveCapacity(count)
            await BenchProcess.waitUntilIdle()
            let beforeSessions = BenchProcess.residentBytes()
            for _ in 0..<count { mutexes.append(try await client.session().mutex("queue")) }
            await BenchProcess.waitUntilIdle()
            let perSession = perItem(beforeSessions)
            let beforeWaiters = BenchProcess.residentBytes()
            for mutex in mutexes {
                if kind == .waiters {
                    Task { _ = try await mutex.lock() }
                } else {
                    Task { try await mutex.withLock { _ in } }
                }
            }
            while waiting.count < count { try await Task.sleep(for: .milliseconds(2)) }
            await BenchProcess.waitUntilIdle()
            return [("session", perSession), ("waiter", perItem(beforeWaiters))]
        case .floorHeld:
            var mutexes: [FloorMutex] = []
            mutexes.reserveCapacity(count)
            await BenchProcess.waitUntilIdle()
            let before = BenchProcess.residentBytes()
            for _ in 0..<count {
                let mutex = FloorMutex()
                try await mutex.lock()
                mutexes.append(mutex)
            }
            await BenchProcess.waitUntilIdle()
            return [("held", perItem(before))]
        case .floorWaiters:
            let mutex = FloorMutex()
            try await mutex.lock()
            await BenchProcess.waitUntilIdle()
            let before = BenchProcess.residentBytes()
            for _ in 0..<count { Task { try await mutex.lock() } }
            while await mutex.waiting < count { try await Task.sleep(for: .milliseconds(2)) }
            await BenchProcess.waitUntilIdle()
            return [("waiter", perItem(before))]
        }
    }
}

/// A benchmark that could not run as intended.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

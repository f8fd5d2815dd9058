import Baton
import BatonTestSupport
import Testing

/// Helpers for the recipe-level tests against a real etcd: bounded waits, key watches, event logs.

/// Runs `body` and returns its result, or throws ``HarnessError`` once `timeout` has passed without
/// one — the body is then cancelled and left behind, so a stuck call fails the test instead of
/// hanging it.
func bounded<T: Sendable>(
    _ timeout: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = Observed<Result<T, any Error>?>(nil)
    let work = Task {
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        outcome.update { $0 = result }
    }
    do {
        return try await outcome.wait(within: timeout, for: what) { $0 }.get()
    } catch let error as HarnessError {
        work.cancel()
        throw error
    }
}

/// Runs `body` (which should throw) within `timeout` and returns the `BatonError` it threw.
///
/// Records an issue when it returns, throws something else or takes too long.
@discardableResult
func expectBatonError<T: Sendable>(
    _ code: BatonError.Code, within timeout: Duration, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation, _ body: @escaping @Sendable () async throws -> T
) async -> BatonError? {
    let outcome = Observed<Result<T, any Error>?>(nil)
    let work = Task {
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        outcome.update { $0 = result }
    }
    guard let result = try? await outcome.wait(within: timeout, for: what, until: { $0 }) else {
        work.cancel()
        Issue.record("\(what): still running after \(timeout)", sourceLocation: sourceLocation)
        return nil
    }
    switch result {
    case .success:
        Issue.record("\(what): expected BatonError(.\(code)), got success", sourceLocation: sourceLocation)
    case .failure(let error as BatonError):
        #expect(error.code == code, "\(what): \(error)", sourceLocation: sourceLocation)
        return error
    case .failure(let error):
        Issue.record("\(what): expected BatonError(.\(code)), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Every key under `prefix`, in create order.
func keys(_ backend: any Backend, _ prefix: String) async throws -> [String] {
    try await backend.range(RangeRequest(.prefix(Key(prefix)), sortOrder: .ascend, sortTarget: .create)).kvs
        .map(\.key.description)
}

/// Waits — on a watch of the prefix, not on time — until exactly `count` keys exist under `prefix`;
/// returns them in create order.
///
/// - Throws: ``HarnessError`` when that does not happen within `timeout`.
@discardableResult
func waitForKeys(
    _ backend: any Backend, _ prefix: String, count: Int, within timeout: Duration = .seconds(10)
) async throws -> [String] {
    try await bounded(timeout, "\(count) keys under \(prefix)") {
        let events = try await backend.watch(WatchRequest(.prefix(Key(prefix))))
        var now = try await keys(backend, prefix)
        if now.count == count { return now }
        for try await _ in events {
            now = try await keys(backend, prefix)
            if now.count == count { return now }
        }
        throw HarnessError("the watch of \(prefix) ended")
    }
}

/// What the sessions of a test reported, with the wall-clock time of each report.
final class EventLog: Sendable {
    let entries = Observed<[(at: ContinuousClock.Instant, event: BatonEvent)]>([])

    /// A sink that records into this log.
    var sink: EventSink {
        EventSink { [entries] event in
            let now = ContinuousClock.now
            entries.update { $0.append((now, event)) }
        }
    }

    /// When `lease`'s session last heard that its lease is alive: its start or its latest renewal.
    func lastRenewal(of lease: LeaseID) -> ContinuousClock.Instant? {
        entries.value.last { entry in
            switch entry.event {
            case .sessionStarted(let id, _), .sessionRenewed(let id, _): id == lease
            default: false
            }
        }?.at
    }

    /// Waits until `lease` has been renewed after `instant`.
    func waitForRenewal(of lease: LeaseID, after instant: ContinuousClock.Instant, within timeout: Duration)
        async throws
    {
        try await entries.wait(within: timeout, for: "renewal of \(lease)") { entries in
            entries.contains { entry in
                guard entry.at > instant, case .sessionRenewed(let id, _) = entry.event else { return false }
                return id == lease
            }
        }
    }
}

extension EventLog {
    /// Waits until `lease`'s session has either been renewed after `instant` (returns true) or
    /// ended (returns false).
    func waitForRenewalOrEnd(
        of lease: LeaseID, after instant: ContinuousClock.Instant, within timeout: Duration
    ) async throws -> Bool {
        try await entries.wait(within: timeout, for: "renewal or end of \(lease)") { entries in
            for entry in entries {
                switch entry.event {
                case .sessionEnded(let id, _) where id == lease: return false
                case .sessionRenewed(let id, _) where id == lease && entry.at > instant: return true
                default: continue
                }
            }
            return nil
        }
    }
}

extension Duration {
    /// The duration in seconds, for messages.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension EtcdServer {
    /// An `etcd:` connection string for this server with `options` (`name=value`, joined by `&`).
    func connectionString(_ options: String...) -> String {
        "etcd:\(clientURL)" + (options.isEmpty ? "" : "?" + options.joined(separator: "&"))
    }
}

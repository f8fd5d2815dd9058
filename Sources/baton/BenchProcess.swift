import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the benchmark reads about its own process: resident memory, CPU time, wall-clock time.
///
/// Sources/baton may read the wall clock: none of this runs inside a simulation.
enum BenchProcess {
    /// Resident set size in bytes, from `/proc/self/statm` (0 where it cannot be read).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// User plus system CPU time of the whole process.
    static func cpuTime() -> Duration {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func duration(_ t: timeval) -> Duration { .seconds(Int64(t.tv_sec)) + .microseconds(Int64(t.tv_usec)) }
        return duration(usage.ru_utime) + duration(usage.ru_stime)
    }

    /// Waits until the process has gone quiet: `consecutive` windows in a row in which it used less
    /// than a tenth of one core. Used to know that every queued waiter has finished setting up its
    /// watches before a handoff is timed, without reaching into the library.
    /// - Returns: false if the process was still busy after `timeout`.
    @discardableResult
    static func waitUntilIdle(
        window: Duration = .milliseconds(2), consecutive: Int = 2, timeout: Duration = .seconds(60)
    ) async -> Bool {
        let clock = ContinuousClock(), start = clock.now
        var quiet = 0
        while quiet < consecutive {
            if start.duration(to: clock.now) > timeout { return false }
            let cpu = cpuTime(), wall = clock.now
            try? await Task.sleep(for: window)
            let used = cpuTime() - cpu, elapsed = wall.duration(to: clock.now)
            quiet = used * 10 < elapsed ? quiet + 1 : 0
        }
        return true
    }

    /// Writes a progress line to standard error (standard output carries only the results).
    static func progress(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

extension Duration {
    /// The duration in (fractional) nanoseconds.
    var benchNanoseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    }

    /// The duration in (fractional) seconds.
    var benchSeconds: Double { benchNanoseconds / 1e9 }
}

/// Measures how long `body` takes on the continuous clock.
func benchTimed<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
    let clock = ContinuousClock(), start = clock.now
    let value = try await body()
    return (value, start.duration(to: clock.now))
}

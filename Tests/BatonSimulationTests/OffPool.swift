import Foundation

/// Runs a synchronous simulation on a thread of its own and awaits its result.
///
/// `Simulation.run` drives its scheduler on the calling thread. Called straight from a test, it would
/// hold one of the two cooperative-pool threads of this machine for seconds, starving the tests that
/// run beside it (the etcd suites bound real waits and would time out). Test code only.
func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The identity of the thread running a scheduler's driver loop, to tell its own enqueues from ones
/// that arrive from elsewhere (a job or continuation that escaped the simulation).
struct DriverThread: Sendable, Equatable {
    private let id: UInt

    /// The calling thread. determinism: identity comparison only, nothing is scheduled on threads.
    static var current: DriverThread { DriverThread(id: UInt(bitPattern: Int(bitPattern: pthread_self()))) }  // determinism: thread identity check only

    private init(id: UInt) { self.id = id }

    /// Whether the calling thread is this one.
    var isCurrent: Bool { DriverThread.current.id == id }

    /// A value no thread has.
    static let none = DriverThread(id: 0)
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The identity of the OS thread running a scheduler's driver loop, to tell its own enqueues from ones
/// that arrive from elsewhere (a job or continuation that escaped the simulation).
struct DriverIdentity: Sendable, Equatable {
    private let id: UInt

    /// The calling OS thread's identity (compared only; nothing is ever scheduled on it).
    static var current: DriverIdentity {
        DriverIdentity(id: UInt(bitPattern: Int(bitPattern: pthread_self())))  // determinism: identity only
    }

    private init(id: UInt) { self.id = id }

    /// Whether the caller runs on this identity.
    var isCurrent: Bool { DriverIdentity.current.id == id }

    /// A value no driver has.
    static let none = DriverIdentity(id: 0)
}

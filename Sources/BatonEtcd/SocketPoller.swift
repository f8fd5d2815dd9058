import CBatonEpoll
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The one thread that reads every connection's socket: it waits on all of them with `epoll` and, when
/// one has bytes, its end or an error, drains it into its ``SocketConnection``, which resumes the task
/// waiting to read.
///
/// A reply goes from the kernel to the waiting task through this thread alone. A Dispatch read source
/// (what this replaced) took two threads, its event thread and then a worker for the handler, and
/// re-armed the descriptor after every event: against etcd on loopback that came to about ten context
/// switches per request. Descriptors are registered once, level-triggered.
///
/// Only this type closes a registered descriptor, under its lock, and it drains under that lock too: so
/// no read or write ever reaches a descriptor that was closed, or closed and reused for another
/// connection. Each registration has a generation, carried in its epoll events and checked, so an
/// event left over from a closed descriptor never touches a connection that reuses the number.
///
/// Real network I/O: it never runs inside a simulation.
final class SocketPoller: Sendable {
    /// The process's poller; its thread starts with the first connection and runs until the process ends.
    static let shared = SocketPoller()

    private struct Registration {
        weak var connection: SocketConnection?
        var generation: UInt32
    }

    private struct Table {
        var registrations: [Int32: Registration] = [:]
        var lastGeneration: UInt32 = 0
    }

    /// The epoll instance (-1 when it could not be created) and why not.
    private let epoll: Int32
    private let creationError: Int32
    private let table = Mutex(Table())

    private init() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        creationError = epoll >= 0 ? 0 : errno
        guard epoll >= 0 else { return }
        Thread { [self] in run() }.start()  // determinism: real sockets
    }

    /// Starts reading `connection`'s socket `fd`. - Returns: the registration's generation.
    /// - Throws: ``SocketConnection/SocketError`` when epoll refuses it.
    func register(_ connection: SocketConnection, fd: Int32) throws -> UInt32 {
        guard epoll >= 0 else { throw SocketConnection.SocketError(operation: "epoll_create1", code: creationError) }
        return try table.withLock { table in
            table.lastGeneration &+= 1
            let generation = table.lastGeneration
            var event = epoll_event()
            event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
            event.data.u64 = UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
            guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else {
                throw SocketConnection.SocketError(operation: "epoll_ctl", code: errno)
            }
            table.registrations[fd] = Registration(connection: connection, generation: generation)
            return generation
        }
    }

    /// Stops reading `fd` and closes it, if it is still registered with `generation`.
    func release(_ fd: Int32, generation: UInt32) {
        table.withLock { table in
            guard table.registrations[fd]?.generation == generation else { return }
            release(fd, in: &table)
        }
    }

    private func release(_ fd: Int32, in table: inout Table) {
        table.registrations.removeValue(forKey: fd)
        epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
        Glibc.close(fd)
    }

    private func run() {
        c_baton_name_current_thread("baton.sockets")
        let capacity = 64
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        while true {
            let count = epoll_wait(epoll, events, Int32(capacity), -1)
            for index in 0..<max(0, Int(count)) {  // -1 is EINTR: wait again
                let token = events[index].data.u64
                let (connection, waiter) = drain(
                    fd: Int32(bitPattern: UInt32(truncatingIfNeeded: token)), generation: UInt32(token >> 32))
                // Both after the lock is let go: resuming a task takes the task's lock, which a task being
                // cancelled holds while its handler closes a connection (taking this lock); and if this
                // was the last reference, the connection goes and releases its descriptor (taking it too).
                waiter?.resume()
                _ = connection
            }
        }
    }

    /// Drains the connection registered under `fd` and `generation`, and releases the descriptor at the
    /// end of its stream or when the connection is gone. - Returns: the connection and its waiting reader.
    private func drain(fd: Int32, generation: UInt32) -> (SocketConnection?, CheckedContinuation<Void, Never>?) {
        table.withLock { table in
            guard let registration = table.registrations[fd], registration.generation == generation else {
                return (nil, nil)  // an event from before the descriptor was released
            }
            guard let connection = registration.connection else {
                release(fd, in: &table)
                return (nil, nil)
            }
            let (open, waiter) = connection.drain(fd)
            if !open { release(fd, in: &table) }
            return (connection, waiter)
        }
    }
}

import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A non-blocking TCP connection: connect within a deadline, write, and read what has arrived.
///
/// The ``SocketPoller``'s thread drains the socket into a buffer as bytes arrive and wakes the one
/// waiting reader. ``close(_:)`` may be called from any task (a timeout, a cancellation): the pending
/// read then fails with the given error and the poller closes the descriptor.
final class SocketConnection: Sendable, CustomStringConvertible {
    /// `host:port`, for messages.
    let peer: String
    private let fd: Int32
    /// The poller's registration of `fd`, set once right after `init`.
    private let generation = Atomic<UInt32>(0)

    private struct State {
        var buffer: [UInt8] = []
        var endOfStream = false
        var failure: (any Error)?
        var closed = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    /// Failures below HTTP, with errno.
    struct SocketError: Error, Sendable, CustomStringConvertible {
        var operation: String
        var code: Int32
        var description: String { "\(operation): \(String(cString: strerror(code))) (errno \(code))" }
    }

    private init(fd: Int32, peer: String) {
        self.fd = fd
        self.peer = peer
    }

    deinit { SocketPoller.shared.release(fd, generation: generation.load(ordering: .relaxed)) }

    var description: String { "connection to \(peer) (fd \(fd))" }

    /// Connects to `host:port`, polling for completion until `timeout`.
    ///
    /// Every address `host` resolves to is tried in turn within the one timeout. Name resolution
    /// uses `getaddrinfo`, which blocks briefly for names (not for IP literals).
    ///
    /// - Throws: ``SocketError`` when refused or unreachable, `TimeoutReached` when `timeout`
    ///   passed, `CancellationError`.
    static func connect(
        host: String, port: Int, timeout: Duration, sleeper: Sleeper
    ) async throws -> SocketConnection {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let list else {
            throw SocketError(
                operation: "resolving \(host): \(String(cString: gai_strerror(resolved)))", code: EHOSTUNREACH)
        }
        defer { freeaddrinfo(list) }
        let clock = ContinuousClock()  // determinism: a real socket's connect is measured in real time
        let deadline = clock.now + timeout
        var lastError: any Error = SocketError(operation: "connect to \(host):\(port)", code: EHOSTUNREACH)
        var address: UnsafeMutablePointer<addrinfo>? = list
        while let info = address {
            address = info.pointee.ai_next
            let fd = socket(
                info.pointee.ai_family,
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            do {
                try await finishConnect(
                    fd, info.pointee.ai_addr, info.pointee.ai_addrlen, deadline: deadline, clock: clock,
                    sleeper: sleeper)
            } catch {
                Glibc.close(fd)
                if error is CancellationError || error is TimeoutReached { throw error }
                lastError = error
                continue
            }
            let connection = SocketConnection(fd: fd, peer: "\(host):\(port)")
            do {
                connection.generation.store(try SocketPoller.shared.register(connection, fd: fd), ordering: .relaxed)
            } catch {
                Glibc.close(fd)  // never registered, so the poller does not own it (and generation 0 matches nothing)
                throw error
            }
            return connection
        }
        throw lastError
    }

    /// The dial timeout ran out.
    struct TimeoutReached: Error, Sendable {}

    private static func finishConnect(
        _ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t, deadline: ContinuousClock.Instant,
        clock: ContinuousClock, sleeper: Sleeper
    ) async throws {
        if Glibc.connect(fd, address, length) == 0 { return }
        guard errno == EINPROGRESS else { throw SocketError(operation: "connect", code: errno) }
        // Poll for writability with a short, growing pause: loopback connects finish at once,
        // remote ones within a few round trips.
        var pause = Duration.microseconds(200)
        while true {
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            if poll(&poller, 1, 0) > 0 {
                var code: Int32 = 0
                var size = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &size)
                if code == 0 { return }
                throw SocketError(operation: "connect", code: code)
            }
            guard clock.now < deadline else { throw TimeoutReached() }
            try await sleeper.sleep(for: min(pause, clock.now.duration(to: deadline)))
            pause = min(pause * 2, .milliseconds(20))
        }
    }

    /// Reads everything that has arrived into the buffer; called by the ``SocketPoller`` when the
    /// socket is readable.
    /// - Returns: whether the stream is still open (at its end or on a read error the connection is
    ///   closed, and the poller releases the descriptor), and the waiting reader, for the poller to
    ///   resume once it has let go of its lock: a task being cancelled holds its own lock while its
    ///   cancellation handler closes a connection, which takes the poller's, and resuming that task
    ///   takes the task's lock.
    func drain(_ fd: Int32) -> (open: Bool, waiter: CheckedContinuation<Void, Never>?) {
        var received: [UInt8] = []
        var ended = false
        var failure: (any Error)?
        // Uninitialized (on the stack when it fits): a zero-filled array per event cost a 64 KB
        // allocation and memset for every reply.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64 * 1024) { chunk in
            while true {
                let count = Glibc.read(fd, chunk.baseAddress, chunk.count)
                if count > 0 {
                    received.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[0..<count]))
                    continue
                }
                if count == 0 {
                    ended = true
                } else if errno == EINTR {
                    continue
                } else if errno != EAGAIN && errno != EWOULDBLOCK {
                    failure = SocketError(operation: "read", code: errno)
                }
                break
            }
        }
        let waiter = state.withLock { state in
            state.buffer.append(contentsOf: received)
            if ended { state.endOfStream = true }
            if let failure, state.failure == nil { state.failure = failure }
            // The poller closes the descriptor next: no more writes.
            if ended || failure != nil { state.closed = true }
            defer { state.waiter = nil }
            return state.waiter
        }
        return (!ended && failure == nil, waiter)
    }

    /// Whether the connection is still usable for another request (not closed, no EOF, no error,
    /// nothing unread).
    var isReusable: Bool {
        state.withLock { !$0.closed && !$0.endOfStream && $0.failure == nil && $0.buffer.isEmpty }
    }

    /// Writes all of `bytes`, pausing briefly whenever the socket buffer is full.
    ///
    /// - Throws: the error the connection was closed with, ``SocketError`` on a write failure,
    ///   `CancellationError`.
    func write(_ bytes: [UInt8], sleeper: Sleeper) async throws {
        var offset = 0
        while offset < bytes.count {
            let result: Result<Int, any Error> = state.withLock { state in
                // Under the lock: `close` cannot release the descriptor during the call.
                if let failure = state.failure { return .failure(failure) }
                if state.closed { return .failure(SocketError(operation: "write", code: EBADF)) }
                let written = bytes[offset...].withUnsafeBytes {
                    send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if written >= 0 { return .success(written) }
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return .success(0) }
                return .failure(SocketError(operation: "write", code: errno))
            }
            let written = try result.get()
            offset += written
            if written == 0 { try await sleeper.sleep(for: .milliseconds(1)) }
        }
    }

    /// The bytes that arrived since the last call, waiting for some if none did; empty at the end
    /// of the stream.
    ///
    /// - Throws: the error ``close(_:)`` was given, a ``SocketError``, or `CancellationError`
    ///   (which also closes the connection).
    func read() async throws -> [UInt8] {
        while true {
            let ready: Result<[UInt8], any Error>? = state.withLock { state in
                if !state.buffer.isEmpty {
                    defer { state.buffer = [] }
                    return .success(state.buffer)
                }
                if let failure = state.failure { return .failure(failure) }
                if state.endOfStream || state.closed { return .success([]) }
                return nil
            }
            if let ready { return try ready.get() }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state in
                        if !state.buffer.isEmpty || state.failure != nil || state.endOfStream || state.closed {
                            return true
                        }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                close(CancellationError())
            }
        }
    }

    /// Closes the connection; a pending or later read fails with `error`. Idempotent.
    func close(_ error: any Error = SocketError(operation: "closed", code: EBADF)) {
        let waiter: CheckedContinuation<Void, Never>?? = state.withLock { state in
            guard !state.closed else { return nil }
            state.closed = true
            if state.failure == nil { state.failure = error }
            defer { state.waiter = nil }
            return .some(state.waiter)
        }
        guard let waiter else { return }
        SocketPoller.shared.release(fd, generation: generation.load(ordering: .relaxed))
        waiter?.resume()
    }
}

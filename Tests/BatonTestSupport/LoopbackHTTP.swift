import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Plain HTTP to loopback for the harness itself (health checks, metrics), outside the code under test.
///
/// Blocking sockets on a thread of its own, not URLSession. On Linux, URLSession watches libcurl's
/// sockets with Dispatch sources, and a request that times out or is refused can close a socket before
/// its source is cancelled: a known use-after-free in Dispatch's event loop
/// (swift-corelibs-foundation #4791). One CI run of these tests crashed there, while polling a frozen
/// etcd's metrics; the harness now keeps Dispatch out of its own I/O.
enum LoopbackHTTP {
    /// One HTTP/1.0 request to `http://127.0.0.1:<port>/…`; `nil` when it failed or `timeout` passed.
    static func request(
        _ url: URL, method: String = "GET", body: Data? = nil, timeout: TimeInterval = 1
    ) async -> (status: Int, body: Data)? {
        guard url.host == "127.0.0.1", let port = url.port else { return nil }
        let path = url.path.isEmpty ? "/" : url.path
        var request = Data("\(method) \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n".utf8)
        if let body { request.append(Data("Content-Type: application/json\r\nContent-Length: \(body.count)\r\n".utf8)) }
        request.append(Data("\r\n".utf8))
        if let body { request.append(body) }
        let bytes = request
        return await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: exchange(port: port, request: bytes, timeout: timeout)) }.start()
        }
    }

    /// Connects, writes `request`, reads to the end of the stream, all within `timeout`.
    private static func exchange(port: Int, request: Data, timeout: TimeInterval) -> (status: Int, body: Data)? {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        func remainingMilliseconds() -> Int32 {
            let left = ContinuousClock.now.duration(to: deadline)
            return max(0, Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
        }
        let fd = socket(
            AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let connected = withLoopbackAddress(port: port) { connect(fd, $0, $1) }
        guard connected == 0 || errno == EINPROGRESS, wait(fd, for: POLLOUT, milliseconds: remainingMilliseconds())
        else { return nil }
        var code: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &size) == 0, code == 0 else { return nil }
        var offset = 0
        while offset < request.count {
            let written = request[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written > 0 {
                offset += written
            } else if written < 0, errno == EAGAIN || errno == EINTR {
                guard wait(fd, for: POLLOUT, milliseconds: remainingMilliseconds()) else { return nil }
            } else {
                return nil
            }
        }
        var response = Data()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count > 0 {
                response.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                break
            } else if errno == EAGAIN || errno == EINTR {
                guard wait(fd, for: POLLIN, milliseconds: remainingMilliseconds()) else { return nil }
            } else {
                return nil
            }
        }
        // "HTTP/1.x NNN reason\r\n…\r\n\r\nbody": an HTTP/1.0 reply is neither chunked nor kept open.
        guard let headEnd = response.firstRange(of: Data("\r\n\r\n".utf8)) else { return nil }
        let statusLine = String(decoding: response[..<headEnd.lowerBound], as: UTF8.self).prefix { $0 != "\r" }
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/"), let status = Int(fields[1]) else { return nil }
        return (status, Data(response[headEnd.upperBound...]))
    }

    /// Whether `fd` became ready for `events` within `milliseconds`.
    private static func wait(_ fd: Int32, for events: Int32, milliseconds: Int32) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(events), revents: 0)
        while true {
            let ready = poll(&poller, 1, milliseconds)
            if ready < 0, errno == EINTR { continue }
            return ready > 0
        }
    }
}

/// Calls `body` with 127.0.0.1:`port` as a `sockaddr` and its length, for `bind` and `connect`.
func withLoopbackAddress<Result>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

/// Free TCP ports on 127.0.0.1, found by binding port 0 and reading back the port the kernel chose.
///
/// Ports a server of this process has claimed are never handed out again until it releases them —
/// not even while that server is down to be restarted on them, when the kernel would offer them.
public enum FreePort {
    private static let claimed = Mutex<Set<Int>>([])

    /// Returns `count` distinct ports that were free a moment ago and claims them for the caller until
    /// ``release(_:)`` (another process may still take one; callers retry on a failed start).
    public static func claim(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { for socket in sockets { close(socket) } }
        var ports: [Int] = []
        while ports.count < count {
            guard sockets.count < count + 100 else { throw HarnessError("no unclaimed free port") }
            // Each socket stays bound until all are chosen, so the kernel offers a new port each time.
            let (socket, port) = try bindLoopback(port: 0)
            sockets.append(socket)
            if claimed.withLock({ $0.insert(port).inserted }) { ports.append(port) }
        }
        return ports
    }

    /// Gives claimed ports back.
    public static func release(_ ports: [Int]) { claimed.withLock { $0.subtract(ports) } }

    /// A socket bound to 127.0.0.1:`port` (0: any), and the port it got. Without `reuseAddress`, no
    /// other socket can bind the port while this one is open.
    static func bindLoopback(port: Int, reuseAddress: Bool = true) throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket() failed: errno \(errno)") }
        var yes: Int32 = 1
        if reuseAddress { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size)) }
        let bound = withLoopbackAddress(port: port) { bind(fd, $0, $1) }
        guard bound == 0 else {
            close(fd)
            throw HarnessError("bind(127.0.0.1:\(port)) failed: errno \(errno)")
        }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}

/// A loopback port held bound, never listening, for as long as this object lives: connections to it
/// are refused, and no other process (an etcd a parallel test starts, say) can take it meanwhile.
public final class DeadPort: Sendable {
    /// The port.
    public let port: Int
    /// `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(port)" }
    private let socket: Int32

    public init() throws {
        (socket, port) = try FreePort.bindLoopback(port: 0, reuseAddress: false)
    }

    deinit { close(socket) }
}

/// A failure of the test harness itself (etcd missing, would not start, a port could not be bound).
public struct HarnessError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

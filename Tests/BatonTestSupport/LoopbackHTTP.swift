import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Plain HTTP to loopback for the harness itself (health checks, metrics), outside the code under test.
enum LoopbackHTTP {
    /// One request; `nil` when it failed or timed out.
    static func request(
        _ url: URL, method: String = "GET", body: Data? = nil, timeout: TimeInterval = 1
    ) async -> (status: Int, body: Data)? {
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = timeout
        return await withCheckedContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, error in
                guard error == nil, let response = response as? HTTPURLResponse else {
                    continuation.resume(returning: nil)
                    return
                }
                continuation.resume(returning: (response.statusCode, data ?? Data()))
            }.resume()
        }
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
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket() failed: errno \(errno)") }
        var yes: Int32 = 1
        if reuseAddress { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(fd)
            throw HarnessError("bind(127.0.0.1:\(port)) failed: errno \(errno)")
        }
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

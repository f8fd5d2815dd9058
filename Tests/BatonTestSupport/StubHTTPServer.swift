import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny TCP server on 127.0.0.1 that is not etcd, for testing how clients fail against one.
///
/// It accepts on a thread of its own (test infrastructure, outside any simulation) and answers
/// every connection according to its ``Behaviour``.
public final class StubHTTPServer: Sendable {
    /// How the server answers each connection.
    public enum Behaviour: Sendable {
        /// Reads the request and answers with this status, content type and body, then closes.
        case respond(status: Int, contentType: String, body: String)
        /// Accepts and reads, but never answers (a hung server).
        case silent
        /// Writes bytes that are not HTTP, then closes.
        case garbage
    }

    /// The port it listens on.
    public let port: Int
    /// `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let behaviour: Behaviour
    private let held = Mutex<[Int32]>([])
    private let stopped = Mutex(false)

    /// Starts listening and accepting.
    ///
    /// - Throws: ``HarnessError`` when no port can be bound.
    public init(_ behaviour: Behaviour) throws {
        let (socket, port) = try FreePort.bindLoopback(port: 0)
        guard listen(socket, 64) == 0 else {
            close(socket)
            throw HarnessError("listen() failed: errno \(errno)")
        }
        self.listener = socket
        self.port = port
        self.behaviour = behaviour
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    /// Stops accepting and closes every connection it holds.
    public func stop() {
        let wasStopped = stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !wasStopped else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for socket in held.withLock({ $0 }) {
            shutdown(socket, Int32(SHUT_RDWR))
            close(socket)
        }
    }

    private func acceptLoop() {
        while !stopped.withLock({ $0 }) {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)  // not inherited by the etcd processes tests start
            serve(connection)
        }
    }

    private func serve(_ connection: Int32) {
        switch behaviour {
        case .silent:
            held.withLock { $0.append(connection) }
        case .garbage:
            _ = readRequest(connection)
            write(connection, "\u{1}\u{2}not http at all\r\n\r\n")
            close(connection)
        case .respond(let status, let contentType, let body):
            _ = readRequest(connection)
            write(
                connection,
                "HTTP/1.1 \(status) Stub\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n"
                    + "Connection: close\r\n\r\n\(body)")
            close(connection)
        }
    }

    /// Reads the headers and, when `Content-Length` says so, the body.
    private func readRequest(_ connection: Int32) -> String {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { break }
            data.append(contentsOf: buffer[0..<count])
            let text = String(decoding: data, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { continue }
            let headers = text[..<end.lowerBound].lowercased()
            let length =
                headers.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            if text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length { break }
        }
        return String(decoding: data, as: UTF8.self)
    }

    private func write(_ connection: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(connection, $0.baseAddress, $0.count) }
            guard written > 0 else { return }
            offset += written
        }
    }
}

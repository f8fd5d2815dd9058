/// An HTTP/1.1 response head: status, headers (names lowercased) and whether the connection stays open.
struct HTTPHead: Equatable, Sendable {
    var status: Int
    var headers: [String: String]
    /// Whether the connection may carry another request after this response.
    var keepAlive: Bool
}

/// An incremental HTTP/1.1 response parser: bytes in, events out. A pure value, no I/O.
///
/// Handles what etcd's gateway (Go's `net/http`) sends: `Content-Length` bodies, chunked bodies
/// *with trailers* (every error reply of the gateway declares `Grpc-Trailer-Content-Type`, which is
/// what makes Linux's URLSession crash), bodies delimited by the connection closing, and interim
/// 1xx responses, which are skipped.
struct HTTPResponseParser: Sendable {
    enum Event: Equatable, Sendable {
        case head(HTTPHead)
        case body([UInt8])
        /// The response is complete.
        case end
    }

    /// The peer does not speak HTTP/1.x (or breaks its framing).
    struct Malformed: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    private enum Phase: Equatable, Sendable {
        case statusLine
        case headers
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    private var phase = Phase.statusLine
    private var buffer: [UInt8] = []
    private var position = 0
    private var status = 0
    private var version = ""
    private var headers: [String: String] = [:]
    private var headerBytes = 0
    /// Whether any byte of a response arrived (a reused connection that fails before that was stale).
    private(set) var receivedAnything = false

    static let maximumHeaderBytes = 64 * 1024

    /// Whether the response is complete.
    var isComplete: Bool { phase == .done }

    /// Feeds bytes from the connection; returns the events they complete.
    ///
    /// - Throws: ``Malformed`` when the bytes are not an HTTP/1.x response.
    mutating func feed(_ bytes: [UInt8]) throws -> [Event] {
        if !bytes.isEmpty { receivedAnything = true }
        buffer.append(contentsOf: bytes)
        var events: [Event] = []
        while try step(&events) {}
        if position > 4096, position * 2 > buffer.count {
            buffer.removeFirst(position)
            position = 0
        }
        return events
    }

    /// The connection closed: ends a body delimited by the close.
    ///
    /// - Throws: ``Malformed`` when the response was cut short.
    mutating func finish() throws -> [Event] {
        switch phase {
        case .done: return []
        case .untilClose:
            phase = .done
            return [.end]
        default:
            throw Malformed(description: "the connection closed in the middle of the response")
        }
    }

    /// Advances by one unit (a line, a run of body bytes); false when more bytes are needed.
    private mutating func step(_ events: inout [Event]) throws -> Bool {
        switch phase {
        case .done:
            guard position == buffer.count else { throw Malformed(description: "bytes after the end of the response") }
            return false
        case .statusLine:
            guard let line = try nextLine() else { return false }
            if line.isEmpty { return true }  // tolerate a stray CRLF before the status line
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let code = Int(parts[1]) else {
                throw Malformed(description: "not an HTTP/1.x status line: \(line.prefix(60))")
            }
            version = String(parts[0])
            status = code
            headers = [:]
            phase = .headers
            return true
        case .headers:
            guard let line = try nextLine() else { return false }
            if !line.isEmpty {
                guard let colon = line.firstIndex(of: ":") else { throw Malformed(description: "bad header line") }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingSpaces
                headers[name] = headers[name].map { "\($0), \(value)" } ?? value
                return true
            }
            return try headerComplete(&events)
        case .fixedBody(let remaining):
            let available = min(remaining, buffer.count - position)
            guard available > 0 else { return false }
            events.append(.body(Array(buffer[position..<position + available])))
            position += available
            if remaining == available {
                phase = .done
                events.append(.end)
            } else {
                phase = .fixedBody(remaining: remaining - available)
            }
            return true
        case .chunkSize:
            guard let line = try nextLine() else { return false }
            let digits = line.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces } ?? ""
            guard !digits.isEmpty, digits.count <= 15, let size = Int(digits, radix: 16) else {
                throw Malformed(description: "bad chunk size \(line.prefix(20))")
            }
            phase = size == 0 ? .trailers : .chunkData(remaining: size)
            return true
        case .chunkData(let remaining):
            let available = min(remaining, buffer.count - position)
            guard available > 0 else { return false }
            events.append(.body(Array(buffer[position..<position + available])))
            position += available
            phase = remaining == available ? .chunkDataEnd : .chunkData(remaining: remaining - available)
            return true
        case .chunkDataEnd:
            guard let line = try nextLine() else { return false }
            guard line.isEmpty else { throw Malformed(description: "chunk data longer than its size") }
            phase = .chunkSize
            return true
        case .trailers:
            // Trailer fields (gRPC's status) are read and dropped; an empty line ends the message.
            guard let line = try nextLine() else { return false }
            if line.isEmpty {
                phase = .done
                events.append(.end)
            }
            return true
        case .untilClose:
            guard position < buffer.count else { return false }
            events.append(.body(Array(buffer[position...])))
            position = buffer.count
            return true
        }
    }

    private mutating func headerComplete(_ events: inout [Event]) throws -> Bool {
        if (100...199).contains(status) {
            phase = .statusLine  // an interim response; the real one follows
            return true
        }
        let connection = headers["connection"]?.lowercased() ?? ""
        var keepAlive = version == "HTTP/1.1" ? !connection.contains("close") : connection.contains("keep-alive")
        let chunked = headers["transfer-encoding"]?.lowercased().contains("chunked") ?? false
        if status == 204 || status == 304 {
            phase = .done
        } else if chunked {
            phase = .chunkSize
        } else if let text = headers["content-length"] {
            guard let length = Int(text), length >= 0 else {
                throw Malformed(description: "bad Content-Length \(text)")
            }
            phase = length == 0 ? .done : .fixedBody(remaining: length)
        } else {
            phase = .untilClose
            keepAlive = false
        }
        events.append(.head(HTTPHead(status: status, headers: headers, keepAlive: keepAlive)))
        if phase == .done { events.append(.end) }
        return true
    }

    /// The next CRLF- (or LF-) terminated line as text, without its terminator; nil if incomplete.
    private mutating func nextLine() throws -> String? {
        guard let newline = buffer[position...].firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.count - position > Self.maximumHeaderBytes { throw Malformed(description: "line too long") }
            return nil
        }
        var end = newline
        if end > position, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = String(decoding: buffer[position..<end], as: UTF8.self)
        headerBytes += newline + 1 - position
        position = newline + 1
        if phase == .statusLine || phase == .headers || phase == .trailers {
            guard headerBytes <= Self.maximumHeaderBytes else { throw Malformed(description: "header too large") }
        } else {
            headerBytes = 0
        }
        return line
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return String(text)
    }
}

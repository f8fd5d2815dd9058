import BatonCore
import Foundation

/// An open streaming reply (a watch): reads it line by line as the bytes arrive.
///
/// Owned by one task (the watch's), which calls ``nextLine()`` until it returns nil and then
/// ``cancel()``. A 200 reply's body is one JSON object per line; any other status ends with the
/// error its body describes.
struct StreamConnection: Sendable {
    let socket: SocketConnection
    let endpointIndex: Int
    let transport: HTTPTransport
    /// The transport's deadline for the first line: unless disarmed in time, it closes the connection
    /// with `timeout`. Nil once disarmed.
    private var firstLineDeadline: UInt64?

    private var parser = HTTPResponseParser()
    private var head: HTTPHead?
    private var errorBody = Data()
    private var partial: [UInt8] = []
    private var ready: [[UInt8]] = []
    private var readIndex = 0
    private var ended = false

    init(
        socket: SocketConnection, endpointIndex: Int, transport: HTTPTransport, firstLineDeadline: UInt64
    ) {
        self.socket = socket
        self.endpointIndex = endpointIndex
        self.transport = transport
        self.firstLineDeadline = firstLineDeadline
    }

    var endpoint: String { transport.endpoints[endpointIndex].url }

    /// The next non-empty line, without its newline; nil when the reply ended normally.
    ///
    /// - Throws: a `BatonError` (`unavailable` when the connection broke, `timeout` when the first
    ///   line was late, `malformedResponse`, or the gateway's error for a non-200 reply),
    ///   `CancellationError`.
    mutating func nextLine() async throws -> [UInt8]? {
        while true {
            if readIndex < ready.count {
                if let deadline = firstLineDeadline {
                    transport.disarmDeadline(deadline)
                    firstLineDeadline = nil
                }
                transport.heard(endpointIndex)
                defer { readIndex += 1 }
                return ready[readIndex]
            }
            ready = []
            readIndex = 0
            if ended { return nil }
            do {
                let bytes = try await socket.read()
                if bytes.isEmpty {
                    guard (try? parser.finish()) != nil else {
                        throw SocketConnection.SocketError(
                            operation: "read: the server closed the stream", code: ECONNRESET)
                    }
                    try finish()
                } else {
                    for event in try parser.feed(bytes) { try handle(event) }
                }
            } catch {
                let mapped = transport.failure(error, endpoint: endpoint, receivedAnything: parser.receivedAnything)
                throw (mapped as? TransportFailure)?.batonError ?? mapped
            }
        }
    }

    private mutating func handle(_ event: HTTPResponseParser.Event) throws {
        switch event {
        case .head(let value):
            head = value
        case .body(let bytes):
            guard head?.status == 200 else {
                errorBody.append(contentsOf: bytes)
                return
            }
            var start = partial.count
            partial.append(contentsOf: bytes)
            var lineStart = 0
            while let newline = partial[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = partial[lineStart..<newline]
                if line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) {
                    ready.append(Array(line))
                }
                lineStart = newline + 1
                start = lineStart
            }
            partial.removeFirst(lineStart)
        case .end:
            try finish()
        }
    }

    private mutating func finish() throws {
        ended = true
        if let head, head.status != 200 {
            throw GatewayStatus.error(httpStatus: head.status, body: errorBody)
        }
        if partial.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) { ready.append(partial) }
        partial = []
    }

    /// Closes the connection (etcd then cancels the watch) and forgets it.
    func cancel() {
        if let firstLineDeadline { transport.disarmDeadline(firstLineDeadline) }
        transport.release(socket)
    }
}

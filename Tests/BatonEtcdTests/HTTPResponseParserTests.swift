import Testing

@testable import BatonEtcd

/// The HTTP/1.1 response parser on canned bytes, fed whole and one byte at a time.
struct HTTPResponseParserTests {
    /// Parses `text` fed in pieces of `step` bytes, then the end of the stream if `close`.
    private func parse(_ text: String, step: Int = .max, close: Bool = false) throws -> (HTTPHead?, String, Bool) {
        var parser = HTTPResponseParser()
        var head: HTTPHead?
        var body: [UInt8] = []
        var ended = false
        let bytes = Array(text.utf8)
        var offset = 0
        func apply(_ events: [HTTPResponseParser.Event]) {
            for event in events {
                switch event {
                case .head(let value): head = value
                case .body(let chunk): body += chunk
                case .end: ended = true
                }
            }
        }
        while offset < bytes.count {
            let end = offset + min(step, bytes.count - offset)
            apply(try parser.feed(Array(bytes[offset..<end])))
            offset = end
        }
        if close { apply(try parser.finish()) }
        return (head, String(decoding: body, as: UTF8.self), ended)
    }

    /// An error reply of etcd's gateway, byte for byte as observed (chunked, with a gRPC trailer).
    private let etcdError =
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nTrailer: Grpc-Trailer-Content-Type\r\n"
        + "Transfer-Encoding: chunked\r\n\r\n60\r\n"
        + #"{"error":"etcdserver: key is not provided","message":"etcdserver: key is not provided","code":3}"#
        + "\r\n0\r\nGrpc-Trailer-Content-Type: application/grpc\r\n\r\n"

    @Test(arguments: [1, 7, Int.max])
    func chunkedBodyWithTrailers(step: Int) throws {
        let (head, body, ended) = try parse(etcdError, step: step)
        #expect(head?.status == 400)
        #expect(head?.keepAlive == true)
        #expect(head?.headers["trailer"] == "Grpc-Trailer-Content-Type")
        #expect(body.hasPrefix(#"{"error":"etcdserver: key is not provided""#) && body.hasSuffix("}"))
        #expect(ended)
    }

    @Test(arguments: [1, Int.max])
    func contentLengthBody(step: Int) throws {
        let (head, body, ended) = try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", step: step)
        #expect(head == HTTPHead(status: 200, headers: ["content-length": "5"], keepAlive: true))
        #expect(body == "hello" && ended)
    }

    @Test func closeDelimitedBodyEndsWithTheConnection() throws {
        let (head, body, ended) = try parse("HTTP/1.0 200 OK\r\n\r\nsome text", close: true)
        #expect(head?.keepAlive == false)
        #expect(body == "some text" && ended)
        #expect(try parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").0?.keepAlive == false)
    }

    @Test func interimResponsesAreSkipped() throws {
        let (head, body, _) = try parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(head?.status == 200 && body == "ok")
    }

    @Test func aStreamDeliversChunksAsTheyArrive() throws {
        var parser = HTTPResponseParser()
        let events = try parser.feed(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"a\":1".utf8))
        #expect(events.count == 2)
        #expect(events.last == .body(Array("{\"a\":1".utf8)))
        #expect(!parser.isComplete)
        #expect(try parser.feed(Array("\r\n".utf8)).isEmpty)
        #expect(try parser.feed(Array("0\r\n\r\n".utf8)) == [.end])
        #expect(parser.isComplete)
    }

    @Test func notHTTPIsMalformed() {
        for text in [
            "\u{1}\u{2}not http at all\r\n\r\n", "SSH-2.0-OpenSSH_9.2\r\n", "HTTP/2 200\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n",
        ] {
            #expect(throws: HTTPResponseParser.Malformed.self) { try parse(text) }
        }
        #expect(throws: HTTPResponseParser.Malformed.self) {
            try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        }
    }

    @Test func aResponseCutShortIsAnError() {
        #expect(throws: HTTPResponseParser.Malformed.self) {
            try parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", close: true)
        }
        #expect(throws: HTTPResponseParser.Malformed.self) { try parse("", close: true) }
    }
}

import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What one URLSession task reports, as the ``TaskRouter`` forwards it (on the session's delegate queue).
protocol TaskHandler: AnyObject, Sendable {
    func received(response: HTTPURLResponse)
    func received(data: Data)
    func completed(error: (any Error)?)
}

/// The one delegate of a URLSession: forwards each task's callbacks to the handler registered for it.
///
/// `URLSession.bytes(for:)` does not exist on Linux, so streaming replies are read through a
/// `URLSessionDataDelegate`; routing by task identifier lets one session (one connection pool) serve
/// many concurrent requests.
final class TaskRouter: NSObject, URLSessionDataDelegate, Sendable {
    private let handlers = Mutex<[Int: any TaskHandler]>([:])

    /// Routes `task`'s callbacks to `handler` until the task completes. Call before `resume()`.
    func register(_ handler: any TaskHandler, for task: URLSessionTask) {
        handlers.withLock { $0[task.taskIdentifier] = handler }
    }

    /// Stops routing `task`'s callbacks.
    func remove(_ task: URLSessionTask) {
        _ = handlers.withLock { $0.removeValue(forKey: task.taskIdentifier) }
    }

    private func handler(for task: URLSessionTask) -> (any TaskHandler)? {
        handlers.withLock { $0[task.taskIdentifier] }
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        if let response = response as? HTTPURLResponse { handler(for: dataTask)?.received(response: response) }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        handler(for: dataTask)?.received(data: data)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let handler = handlers.withLock { $0.removeValue(forKey: task.taskIdentifier) }
        handler?.completed(error: error)
    }
}

/// The status and body of one unary POST.
struct HTTPReply: Sendable {
    var status: Int
    var body: Data
}

/// Collects a whole reply and delivers it through a ``OneShot``.
final class UnaryHandler: TaskHandler {
    let reply = OneShot<HTTPReply>()
    private let collected = Mutex(HTTPReply(status: 0, body: Data()))

    func received(response: HTTPURLResponse) {
        collected.withLock { $0.status = response.statusCode }
    }

    func received(data: Data) {
        collected.withLock { $0.body.append(data) }
    }

    func completed(error: (any Error)?) {
        if let error {
            reply.resolve(.failure(error))
        } else {
            reply.resolve(.success(collected.withLock { $0 }))
        }
    }
}

/// Splits a streaming reply into lines as the bytes arrive and hands them to an `AsyncThrowingStream`.
///
/// A 200 reply's body is one JSON object per line; any other status collects the body and ends
/// the stream with the error it describes.
final class StreamHandler: TaskHandler {
    /// Resolved with the HTTP status when the headers arrive, or with the error if the task fails first.
    let opened = OneShot<Int>()
    /// The lines of the reply, without their newline.
    let lines: AsyncThrowingStream<[UInt8], any Error>
    private let continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation

    private struct State {
        var status = 0
        var pending: [UInt8] = []
        var errorBody = Data()
        var sawLine = false
        var firstLineWatchdog: Task<Void, any Error>?
    }
    private let state = Mutex(State())

    init() {
        (lines, continuation) = AsyncThrowingStream.makeStream(of: [UInt8].self, throwing: (any Error).self)
    }

    /// Called on a stream's termination, e.g. to cancel the URLSession task.
    func onTermination(_ action: @escaping @Sendable () -> Void) {
        continuation.onTermination = { _ in action() }
    }

    /// Keeps `watchdog` until the first line arrives, then cancels it.
    func setFirstLineWatchdog(_ watchdog: Task<Void, any Error>) {
        let cancelNow = state.withLock { state in
            if state.sawLine { return true }
            state.firstLineWatchdog = watchdog
            return false
        }
        if cancelNow { watchdog.cancel() }
    }

    /// Ends the stream with `error` (a timeout, a close) unless it already ended.
    func fail(_ error: any Error) {
        opened.resolve(.failure(error))
        continuation.finish(throwing: error)
        state.withLock { $0.firstLineWatchdog }?.cancel()
    }

    func received(response: HTTPURLResponse) {
        state.withLock { $0.status = response.statusCode }
        opened.resolve(.success(response.statusCode))
    }

    func received(data: Data) {
        let (lines, watchdog): ([[UInt8]], Task<Void, any Error>?) = state.withLock { state in
            guard state.status == 200 else {
                state.errorBody.append(data)
                return ([], nil)
            }
            state.pending.append(contentsOf: data)
            var lines: [[UInt8]] = []
            var start = 0
            while let newline = state.pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(state.pending[start..<newline])
                start = newline + 1
                if !line.allSatisfy(Self.isSpace) { lines.append(line) }
            }
            state.pending.removeFirst(start)
            var watchdog: Task<Void, any Error>?
            if !lines.isEmpty, !state.sawLine {
                state.sawLine = true
                watchdog = state.firstLineWatchdog
                state.firstLineWatchdog = nil
            }
            return (lines, watchdog)
        }
        watchdog?.cancel()
        for line in lines { continuation.yield(line) }
    }

    func completed(error: (any Error)?) {
        if let error {
            fail(error)
            return
        }
        let (status, rest, body) = state.withLock { state in
            let rest = state.pending
            state.pending = []
            return (state.status, rest, state.errorBody)
        }
        if status != 200 {
            fail(GatewayStatus.error(httpStatus: status, body: body))
            return
        }
        if !rest.allSatisfy(Self.isSpace) { continuation.yield(rest) }
        continuation.finish()
        state.withLock { $0.firstLineWatchdog }?.cancel()
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t")
    }
}

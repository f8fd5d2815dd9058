import BatonCore
import BatonEtcd
import Testing

/// Expects `body` to throw a `BatonError` with `code`; returns it.
@discardableResult
func expectBatonError(
    _ code: BatonError.Code, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> BatonError? {
    do {
        try await body()
        Issue.record(
            "expected BatonError(.\(code)), nothing was thrown. \(comment?.description ?? "")",
            sourceLocation: sourceLocation)
    } catch let error as BatonError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected BatonError(.\(code)), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

extension EtcdGateway {
    /// Closes the gateway from a synchronous `defer`.
    func closeSoon() {
        Task { await self.close() }
    }
}

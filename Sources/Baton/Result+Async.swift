/// Captures an async throwing body's outcome, for task-group children that must not throw.
extension Result where Failure == any Error {
    nonisolated(nonsending) init(catching body: nonisolated(nonsending) () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

import Baton
import Synchronization

/// `baton counter [--tasks N] [--connect URI]`: seed 004's example. N tasks, each with its own session,
/// increment one plain counter under one lock; prints the count and the most critical sections seen
/// running at once (1 when the lock works).
func runCounter(_ arguments: [String]) async -> Int32 {
    var tasks = 1000, uri = "local:"
    var rest = arguments[...]
    while let flag = rest.popFirst() {
        switch (flag, rest.popFirst()) {
        case ("--tasks", let value?) where Int(value).map({ $0 > 0 }) == true: tasks = Int(value)!
        case ("--connect", let value?): uri = value
        default:
            print("usage: baton counter [--tasks N] [--connect local:|etcd:URL]")
            return 2
        }
    }
    do {
        let client = try await BatonClient.connect(uri)
        let counter = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    let session = try await client.session(ttl: .seconds(10))
                    try await session.mutex("mylock").withLock { _ in await counter.increment() }
                    try await session.close()
                }
            }
            try await group.waitForAll()
        }
        print("counter: \(counter.value) (\(tasks) tasks, \(uri), at most \(counter.maximumInside) inside at once)")
        await client.close()
        return counter.value == tasks && counter.maximumInside == 1 ? 0 : 1
    } catch {
        print("counter: \(error)")
        return 1
    }
}

/// A counter updated with a suspension in the middle, so that without mutual exclusion updates are lost.
private final class Counter: Sendable {
    private let state = Mutex((value: 0, inside: 0, maximumInside: 0))
    var value: Int { state.withLock { $0.value } }
    var maximumInside: Int { state.withLock { $0.maximumInside } }

    func increment() async {
        let read = state.withLock { state -> Int in
            state.inside += 1
            state.maximumInside = max(state.maximumInside, state.inside)
            return state.value
        }
        await Task.yield()  // a suspension point inside the critical section
        state.withLock { state in
            state.value = read + 1
            state.inside -= 1
        }
    }
}

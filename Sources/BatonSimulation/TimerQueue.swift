/// Something that happens when a simulated timer fires: a sleep resuming, a message arriving, a fault
/// starting. Called on the driver thread, between jobs.
protocol TimerTarget: AnyObject {
    /// False once the timer was cancelled or its waiter resolved some other way; a dead timer is
    /// dropped without advancing time.
    var isLive: Bool { get }
    /// Does what the timer is for.
    func fire()
}

/// A timer that runs a closure unless cancelled.
final class ActionTimer: TimerTarget {
    private var action: (() -> Void)?
    init(_ action: @escaping () -> Void) { self.action = action }
    var isLive: Bool { action != nil }
    func cancel() { action = nil }
    func fire() {
        let action = self.action
        self.action = nil
        action?()
    }
}

/// One scheduled timer: ordered by deadline, then by insertion order.
struct TimerEntry {
    /// Global simulated time in nanoseconds.
    var deadline: Int64
    /// Insertion order, breaking ties between equal deadlines.
    var sequence: UInt64
    /// The scheduler node (incarnation) the timer belongs to, for leftover accounting.
    var node: Int32
    var target: any TimerTarget

    func precedes(_ other: TimerEntry) -> Bool {
        deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
    }
}

/// A binary min-heap of timers ordered by (deadline, insertion order), as swift-nio's
/// `EmbeddedEventLoop` orders scheduled work.
struct TimerQueue {
    private var heap: [TimerEntry] = []

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var first: TimerEntry? { heap.first }

    mutating func push(_ entry: TimerEntry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func pop() -> TimerEntry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].precedes(heap[smallest]) { smallest = left }
            if right < heap.count, heap[right].precedes(heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }

    /// Every live timer, in no particular order (for leftover accounting).
    var live: [TimerEntry] { heap.filter { $0.target.isLive } }

    mutating func removeAll() { heap.removeAll() }
}

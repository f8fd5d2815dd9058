/// Values under integer IDs handed out in increasing order (watches, waits, leases), kept in an array
/// indexed by ID: a lookup is a subtraction, not a hash, and values created together sit together in
/// memory, so a long queue worked through in order reads memory in order too.
///
/// The array spans the IDs from the oldest value in it to the newest. Its front is trimmed as the
/// oldest values go. An ID that does not fit that window (one behind its front, or one far past its
/// end) is kept in a dictionary instead. So is an old value that stays on after most of the values
/// around it have gone: once fewer than a quarter of the window's slots are live, the live values of
/// its older half move to the dictionary. So the window stays proportional to the values held,
/// whatever order IDs come and go in; like a `Dictionary`, the array keeps the capacity it grew to.
///
/// For Baton's own modules (``LocalStore`` keeps its waits in these), not part of the API: SPI rather
/// than `package`, because only a public declaration's `@inlinable` body is specialized in the modules
/// that use it, and an unspecialized table costs more than the hashing it saves.
@_spi(BatonInternals)
public struct IDTable<Value> {
    /// The window: `slots[head...]` holds the IDs from `base` on; slots before `head` are dead space
    /// that is dropped once it is half the array.
    @usableFromInline var slots: [Value?] = []
    @usableFromInline var head = 0
    @usableFromInline var base: Int64 = 0
    /// How many of the window's slots hold a value.
    @usableFromInline var live = 0
    /// Values whose IDs are outside the window.
    @usableFromInline var strays: [Int64: Value] = [:]

    /// The smallest window that is thinned out when mostly empty.
    @usableFromInline static var minimumThinnedSpan: Int { 64 }

    @inlinable public init() {}

    /// How many values the table holds.
    @inlinable public var count: Int { live + strays.count }

    @inlinable public var isEmpty: Bool { count == 0 }

    @inlinable var span: Int { slots.count - head }

    /// How far `id` is past the window's first ID; nil when it is before it (or too far to say).
    @inlinable
    func offset(of id: Int64) -> Int64? {
        guard id >= base else { return nil }
        let (offset, overflow) = id.subtractingReportingOverflow(base)
        return overflow ? nil : offset
    }

    /// The slot index of `id` if it is inside the window.
    @inlinable
    func slot(of id: Int64) -> Int? {
        guard let offset = offset(of: id), offset < Int64(span) else { return nil }
        return head + Int(offset)
    }

    /// The value under `id`, if any.
    @inlinable @inline(__always) public subscript(id: Int64) -> Value? {
        if let index = slot(of: id), let value = slots[index] { return value }
        return strays.isEmpty ? nil : strays[id]
    }

    /// Stores `value` under `id`, replacing any value there.
    @inlinable @inline(__always) public mutating func insert(_ value: Value, for id: Int64) {
        if span == 0 {
            slots.removeAll(keepingCapacity: true)
            head = 0
            base = id
        }
        if let index = slot(of: id) {
            if slots[index] == nil {
                live += 1
                if !strays.isEmpty { strays[id] = nil }
            }
            slots[index] = value
        } else if let offset = offset(of: id), offset - Int64(span) <= Int64(max(Self.minimumThinnedSpan, span)) {
            // Not far past the end: extend the window over the gap.
            for _ in 0..<(offset - Int64(span)) { slots.append(nil) }
            slots.append(value)
            live += 1
            if !strays.isEmpty { strays[id] = nil }
            if live * 4 < span, span >= Self.minimumThinnedSpan { thin() }
        } else {
            strays[id] = value
        }
    }

    /// Removes and returns the value under `id`, if any.
    @inlinable @inline(__always) @discardableResult
    public mutating func removeValue(for id: Int64) -> Value? {
        guard let index = slot(of: id), let value = slots[index] else {
            return strays.isEmpty ? nil : strays.removeValue(forKey: id)
        }
        slots[index] = nil
        live -= 1
        if index == head { trimFront() }
        if live * 4 < span, span >= Self.minimumThinnedSpan { thin() }
        return value
    }

    /// Changes the value under `id` in place; returns nil (calling nothing) when there is none.
    @inlinable @inline(__always) @discardableResult
    public mutating func modifyValue<R>(for id: Int64, _ body: (inout Value) -> R) -> R? {
        if let index = slot(of: id), slots[index] != nil {
            return body(&slots[index]!)
        }
        guard !strays.isEmpty, let index = strays.index(forKey: id) else { return nil }
        return body(&strays.values[index])
    }

    /// Every ID held with its value, in increasing order of ID: one walk of the window, merged with
    /// the strays when there are any.
    @inlinable var entries: [(id: Int64, value: Value)] {
        var entries: [(id: Int64, value: Value)] = []
        entries.reserveCapacity(count)
        for (offset, value) in slots[head...].enumerated() {
            if let value { entries.append((base + Int64(offset), value)) }
        }
        if !strays.isEmpty {
            entries = (entries + strays.map { (id: $0.key, value: $0.value) }).sorted { $0.id < $1.id }
        }
        return entries
    }

    /// Every ID held, in increasing order.
    @inlinable public var ids: [Int64] { entries.map(\.id) }

    /// Every value held, in increasing order of ID.
    @inlinable public var values: [Value] { entries.map(\.value) }

    /// Drops the dead slots at the front of the window; once they are half the array, frees them.
    @inlinable @inline(__always) mutating func trimFront() {
        while head < slots.count, slots[head] == nil {
            head += 1
            base += 1
        }
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= Self.minimumThinnedSpan, head * 2 >= slots.count {
            slots.removeFirst(head)
            head = 0
        }
    }

    /// Moves the live values of the window's older half to `strays` and drops that half, until the
    /// window is at least a quarter full or small.
    @inlinable mutating func thin() {
        while live * 4 < span, span >= Self.minimumThinnedSpan {
            let half = span / 2
            for offset in 0..<half {
                if let value = slots[head + offset] {
                    strays[base + Int64(offset)] = value
                    slots[head + offset] = nil
                    live -= 1
                }
            }
            head += half
            base += Int64(half)
            trimFront()
        }
    }
}

extension IDTable: Sendable where Value: Sendable {}

extension IDTable: Equatable where Value: Equatable {
    /// Equal when they hold the same values under the same IDs, however each is laid out.
    public static func == (lhs: IDTable, rhs: IDTable) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.entries.elementsEqual(rhs.entries) { $0.id == $1.id && $0.value == $1.value }
    }
}

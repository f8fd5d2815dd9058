import BatonCore

/// Something Baton did, reported to the environment's ``EventSink`` (for logs and simulation traces).
public enum BatonEvent: Hashable, Sendable, CustomStringConvertible {
    case sessionStarted(lease: LeaseID, ttl: Int64)
    case sessionRenewed(lease: LeaseID, ttl: Int64)
    case sessionEnded(lease: LeaseID, reason: Session.End)
    case lockWaiting(name: String, key: Key, token: Int64)
    case lockAcquired(name: String, key: Key, token: Int64)
    case lockReleased(name: String, key: Key, token: Int64)
    case lockLost(name: String, key: Key, token: Int64)
    case leaderElected(election: String, key: Key, term: Int64)
    case leaderResigned(election: String, key: Key, term: Int64)

    public var description: String {
        switch self {
        case .sessionStarted(let lease, let ttl): "session \(lease) started ttl=\(ttl)s"
        case .sessionRenewed(let lease, let ttl): "session \(lease) renewed ttl=\(ttl)s"
        case .sessionEnded(let lease, let reason): "session \(lease) ended: \(reason)"
        case .lockWaiting(let name, let key, let token): "lock \(name) waiting \(key) token=\(token)"
        case .lockAcquired(let name, let key, let token): "lock \(name) acquired \(key) token=\(token)"
        case .lockReleased(let name, let key, let token): "lock \(name) released \(key) token=\(token)"
        case .lockLost(let name, let key, let token): "lock \(name) lost \(key) token=\(token)"
        case .leaderElected(let e, let key, let term): "election \(e) leader \(key) term=\(term)"
        case .leaderResigned(let e, let key, let term): "election \(e) resigned \(key) term=\(term)"
        }
    }
}

/// Receives ``BatonEvent``s. Must be cheap and must not block.
public struct EventSink: Sendable {
    private let receive: @Sendable (BatonEvent) -> Void
    /// Creates a sink that calls `receive` for every event.
    public init(_ receive: @escaping @Sendable (BatonEvent) -> Void) { self.receive = receive }
    /// A sink that drops every event.
    public static let discard = EventSink { _ in }
    /// Reports `event`.
    public func emit(_ event: BatonEvent) { receive(event) }
}

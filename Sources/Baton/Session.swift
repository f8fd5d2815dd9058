import BatonCore

/// Placeholder until the session recipe lands in this same commit series.
public final class Session: Sendable {
    /// Why a session ended.
    public enum End: Hashable, Sendable, CustomStringConvertible {
        /// The lease expired on the server or could not be renewed within its TTL.
        case expired
        /// ``Session/close()`` revoked the lease.
        case closed
        /// ``Session/orphan()`` stopped renewing; the lease lives on until its TTL runs out.
        case orphaned
        public var description: String {
            switch self {
            case .expired: "expired"
            case .closed: "closed"
            case .orphaned: "orphaned"
            }
        }
    }
}

/// The one error type Baton throws.
///
/// Switch on ``code``; ``message`` is for people and ``cause`` carries the underlying error (an HTTP
/// failure, a decoding error, the session end that made a lock lost). Cancellation is never a
/// `BatonError`: it surfaces as `CancellationError`.
public struct BatonError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, named after etcd's sentinels where they exist.
    ///
    /// A struct over a private enum, so new codes can be added without breaking a user's `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case locked, lockReleased, lockLost, sessionExpired, notLeader, noLeader, leaseNotFound
            case leaseExists, unavailable, timeout, invalidArgument, unsupportedService
            case invalidConnectionString, alreadyClosed, compacted, futureRevision, duplicateKey
            case authenticationFailed, malformedResponse
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// `tryLock` found the lock held by someone else.
        public static let locked = Code(.locked)
        /// `unlock` or `resign` on something this holder no longer holds.
        public static let lockReleased = Code(.lockReleased)
        /// A held lock or leadership was lost: the session ended or the key vanished.
        public static let lockLost = Code(.lockLost)
        /// The session's lease expired (or could not be kept alive within its TTL).
        public static let sessionExpired = Code(.sessionExpired)
        /// `proclaim` or `resign` by a candidate that is not (or no longer) the leader.
        public static let notLeader = Code(.notLeader)
        /// `leader` on an election that has no leader.
        public static let noLeader = Code(.noLeader)
        /// The lease does not exist (never granted, revoked or expired).
        public static let leaseNotFound = Code(.leaseNotFound)
        /// A lease with the requested ID already exists.
        public static let leaseExists = Code(.leaseExists)
        /// The backend could not be reached or refused to serve.
        public static let unavailable = Code(.unavailable)
        /// A request did not complete within its timeout.
        public static let timeout = Code(.timeout)
        /// A name, TTL, key or request was not acceptable.
        public static let invalidArgument = Code(.invalidArgument)
        /// A connection string named a scheme Baton does not serve.
        public static let unsupportedService = Code(.unsupportedService)
        /// A connection string could not be parsed or had bad options.
        public static let invalidConnectionString = Code(.invalidConnectionString)
        /// The client, session or stream was already closed.
        public static let alreadyClosed = Code(.alreadyClosed)
        /// The requested revision has been compacted away.
        public static let compacted = Code(.compacted)
        /// The requested revision is newer than the store's.
        public static let futureRevision = Code(.futureRevision)
        /// One transaction wrote the same key twice.
        public static let duplicateKey = Code(.duplicateKey)
        /// The server rejected the credentials or the token.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The server answered with something that is not what the protocol says.
        public static let malformedResponse = Code(.malformedResponse)

        public var description: String { value.rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// A sentence for people.
    public var message: String
    /// The error underneath, if any.
    public var cause: (any Error & Sendable)?

    /// Creates an error with a code, a message and an optional cause.
    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(code): \(message) (caused by: \(cause))" }
        return "\(code): \(message)"
    }
}

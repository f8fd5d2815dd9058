/// How the simulated network between clients and the server behaves when no fault is active.
public struct NetworkConditions: Sendable, Hashable {
    /// One-way latency of a message, drawn uniformly per message (jitter reorders messages).
    public var latency: ClosedRange<Duration>
    /// How long a client waits for a reply before failing the request with `timeout`.
    public var requestTimeout: Duration
    /// How long a client takes to fail a request with `unavailable` while its connection is known down.
    public var dialTimeout: Duration
    /// How long after a partition starts (or a client crashes) the connection is considered broken:
    /// watches end with `unavailable`, pending requests fail with `unavailable`, new ones fail fast.
    public var failureDetection: Duration
    /// The probability that one request or reply is lost (the caller then times out).
    public var loss: Double

    /// Creates network conditions.
    public init(
        latency: ClosedRange<Duration> = .milliseconds(1)...(.milliseconds(10)),
        requestTimeout: Duration = .seconds(2), dialTimeout: Duration = .milliseconds(200),
        failureDetection: Duration = .seconds(1), loss: Double = 0
    ) {
        self.latency = latency
        self.requestTimeout = requestTimeout
        self.dialTimeout = dialTimeout
        self.failureDetection = failureDetection
        self.loss = loss
    }
}

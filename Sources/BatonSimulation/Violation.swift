/// An oracle's finding: a safety or liveness property the run broke.
public struct Violation: Sendable, Hashable, CustomStringConvertible {
    /// The property, e.g. `fencing`, `expired-lease-visible`, `lock-owner`, `election-term`,
    /// `liveness`, `leftover`, `escaped`.
    public var oracle: String
    /// What happened, with keys, tokens and nodes.
    public var message: String
    /// Global simulated time of the finding.
    public var time: Duration

    /// Creates a finding.
    public init(oracle: String, message: String, time: Duration) {
        self.oracle = oracle
        self.message = message
        self.time = time
    }

    public var description: String { "\(oracle) at \(Trace.format(time)): \(message)" }
}

import Baton
import BatonCore

/// The properties a simulation checks while it runs and when it ends, and the counters it reports.
///
/// Workloads report what their holders believe (``lockAcquired(_:key:token:lease:holder:)``,
/// ``enter(_:holder:)``, ``leaderElected(_:key:term:lease:holder:)``, ``observed(_:observer:leader:)``);
/// the server side feeds the ``KeyHistory`` and the lease ledger. A failed property is a
/// ``Violation``; breaking *unfenced* mutual exclusion (two holders inside at once by their own belief)
/// is only counted, because under pauses it must happen — that is what fencing is for.
public final class Oracles: @unchecked Sendable {  // driver-confined: touched only by jobs and timers of one simulation
    /// Every property that failed, in order.
    public private(set) var violations: [Violation] = []
    /// How often two holders were inside one lock's critical section at once by their own belief.
    public private(set) var unfencedOverlaps = 0
    /// Grants and leaderships reported.
    public private(set) var grants = 0, leaderships = 0
    /// The server's keyspace history (ownership per key generation).
    public internal(set) var history = KeyHistory()

    private let scheduler: Scheduler
    private let trace: Trace
    private struct Grant {
        var kind: String
        var name: String
        var key: Key
        var token: Int64
        var holder: String
        var lease: LeaseID?
        /// The highest revision the server had answered with when the holder reported the grant.
        var reportedAt: Int64
        /// When the holder reported it.
        var time: Duration
        var releasing = false
    }
    private struct GenerationID: Hashable {
        var key: Key
        var token: Int64
    }

    private var inside: [String: [String]] = [:]
    private var tokenHolders: [String: [Int64: String]] = [:]
    private var granted: [GenerationID: Grant] = [:]
    private var grantOrder: [GenerationID] = []
    private var observedLeaders: [Grant] = []
    private var observerTerms: [String: Int64] = [:]
    /// Generations deleted by an explicit request while their lease was alive, not yet reported granted.
    private var deletedUnderLiveLease: Set<GenerationID> = []
    /// Whether a lease is alive now (`nil`: never seen granted).
    var leaseAlive: (LeaseID) -> Bool? = { _ in nil }
    /// The highest revision the server has answered with.
    var serverRevision: () -> Int64 = { 0 }

    init(scheduler: Scheduler, trace: Trace) {
        self.scheduler = scheduler
        self.trace = trace
    }

    /// Records a failed property.
    public func fail(_ oracle: String, _ message: String) {
        let violation = Violation(oracle: oracle, message: message, time: scheduler.now)
        trace.note("VIOLATION \(violation.oracle): \(violation.message)")
        violations.append(violation)
    }

    /// Whether any property failed.
    public var failed: Bool { !violations.isEmpty }

    // MARK: Locks

    /// A `lock()` returned a grant. Each token may be granted once per lock name, and the grant's key
    /// generation must have been the owner at the server (checked when the run ends).
    public func lockAcquired(_ name: String, key: Key, token: Int64, lease: LeaseID, holder: String) {
        grants += 1
        trace.note("\(holder) acquired \(name) token \(token)")
        grant("lock", name, key: key, token: token, holder: holder, lease: lease)
    }

    /// `holder` is about to unlock (or resign) the grant with `token`: deleting its key from now on is
    /// the holder's own doing.
    public func releasing(_ key: Key, token: Int64) {
        granted[GenerationID(key: key, token: token)]?.releasing = true
    }

    /// `holder` believes it is inside `lock`'s critical section.
    public func enter(_ lock: String, holder: String) {
        if let other = inside[lock]?.first {
            unfencedOverlaps += 1
            trace.note("\(holder) entered \(lock) while \(other) is inside (unfenced overlap)")
        }
        inside[lock, default: []].append(holder)
    }

    /// `holder` left `lock`'s critical section.
    public func exit(_ lock: String, holder: String) {
        inside[lock]?.removeAll { $0 == holder }
    }

    // MARK: Elections

    /// A `campaign()` returned leadership. Each term may be won once per election, and the term's key
    /// generation must have been the owner at the server (checked when the run ends).
    public func leaderElected(_ election: String, key: Key, term: Int64, lease: LeaseID, holder: String) {
        leaderships += 1
        trace.note("\(holder) leads \(election) term \(term)")
        grant("election", election, key: key, token: term, holder: holder, lease: lease)
    }

    /// An observer saw a leader (or no leader). Terms must never go backwards for one observer, and
    /// every observed leader must have owned the election at the server (checked when the run ends).
    public func observed(_ election: String, observer: String, leader: KeyValue?) {
        guard let leader else { return }
        let term = leader.createRevision
        if let last = observerTerms[observer], term < last {
            fail("election-order", "\(observer) saw \(election) term \(term) after term \(last)")
        }
        observerTerms[observer] = max(term, observerTerms[observer] ?? 0)
        observedLeaders.append(
            Grant(
                kind: "observed leader", name: election, key: leader.key, token: term, holder: observer,
                reportedAt: .max, time: scheduler.now))
    }

    private func grant(_ kind: String, _ name: String, key: Key, token: Int64, holder: String, lease: LeaseID) {
        if let previous = tokenHolders[name]?[token] {
            fail(
                kind == "lock" ? "lock-token" : "election-term",
                "\(name) \(kind == "lock" ? "token" : "term") \(token) granted to \(holder) and earlier to \(previous)")
        }
        tokenHolders[name, default: [:]][token] = holder
        let id = GenerationID(key: key, token: token)
        granted[id] = Grant(
            kind: kind, name: name, key: key, token: token, holder: holder, lease: lease, reportedAt: serverRevision(),
            time: scheduler.now)
        grantOrder.append(id)
        if deletedUnderLiveLease.contains(id) { stolen(granted[id]!) }
    }

    /// Feeds the history one watch response and checks what it deleted: a granted key deleted by an
    /// explicit request while its lease lives, before its holder began releasing, was stolen.
    func historyApplied(_ response: WatchResponse) {
        for generation in history.apply(response) {
            guard let lease = generation.lease, leaseAlive(lease) == true else { continue }
            let id = GenerationID(key: generation.key, token: generation.createRevision)
            if let grant = granted[id] {
                if !grant.releasing { stolen(grant) }
            } else {
                deletedUnderLiveLease.insert(id)
            }
        }
    }

    private func stolen(_ grant: Grant) {
        fail(
            "\(grant.kind == "lock" ? "lock" : "election")-stolen",
            "\(grant.holder)'s \(grant.kind) \(grant.name) (key \(grant.key)@\(grant.token)) granted at \(Trace.format(grant.time)), was deleted while its lease \(grant.lease.map(\.description) ?? "-") was alive and before it released"
        )
    }

    // MARK: End of run

    /// Checks every grant, leadership and observed leader against the complete server history.
    func checkGrantsAgainstHistory() {
        for grant in grantOrder.compactMap({ granted[$0] }) + observedLeaders {
            guard let generation = history.generation(grant.key, createRevision: grant.token) else {
                fail(
                    "\(grant.kind == "lock" ? "lock" : "election")-owner",
                    "\(grant.holder) at \(Trace.format(grant.time)): \(grant.kind) \(grant.name) with key \(grant.key)@\(grant.token) never existed at the server"
                )
                continue
            }
            guard let ownerAt = generation.ownerAt, ownerAt <= grant.reportedAt else {
                let fate =
                    generation.ownerAt.map {
                        "only came to own \(KeyHistory.parent(of: grant.key)) at revision \($0), after the grant (server at revision \(grant.reportedAt))"
                    }
                    ?? generation.deletedAt.map {
                        "deleted at revision \($0) without ever owning \(KeyHistory.parent(of: grant.key))"
                    }
                    ?? "never owned \(KeyHistory.parent(of: grant.key))"
                fail(
                    "\(grant.kind == "lock" ? "lock" : "election")-owner",
                    "\(grant.holder) at \(Trace.format(grant.time)): \(grant.kind) \(grant.name) on key \(grant.key)@\(grant.token), which the server \(fate)"
                )
                continue
            }
        }
        grantOrder.removeAll()
        observedLeaders.removeAll()
    }
}

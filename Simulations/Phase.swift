import Baton
import BatonSimulation

/// The phases of a scenario, shared by its body and its programs: faults are active until the body
/// heals everything; then every program must finish its liveness round within a bound.
final class Phase: @unchecked Sendable {  // driver-confined: read and written only by one simulation's jobs
    /// Whether the body ended the fault phase.
    private(set) var healed = false
    /// Global time of the heal.
    private(set) var healedAt: Duration = .zero

    /// Ends the fault phase now.
    func heal(_ world: SimulationWorld) {
        world.healAll()
        healed = true
        healedAt = world.now
        world.note("phase: faults healed, liveness round")
    }
}

/// Errors a workload retries: the store unreachable, a lost lock or leadership, the session over.
func isTransient(_ error: any Error) -> Bool {
    guard let error = error as? BatonError else { return false }
    return [
        .timeout, .unavailable, .lockLost, .sessionExpired, .alreadyClosed, .notLeader, .lockReleased, .locked,
        .noLeader, .leaseNotFound,
    ]
    .contains(error.code)
}

extension FaultPlan.SwarmShape {
    /// The shape with client pauses drawn from `pauses`.
    func with(pauses: ClosedRange<Duration>) -> Self {
        var shape = self
        shape.pauses = pauses
        return shape
    }
}

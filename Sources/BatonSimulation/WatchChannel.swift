import Baton
import BatonCore

/// One watch stream between a client and the server: ordered (a later event never overtakes an
/// earlier one), never lossy — it either delivers everything or breaks.
///
/// A broken channel ends the client's stream with `unavailable`, as a watch on a dead gRPC connection
/// does, so recipes re-establish their watches.
final class WatchChannel: @unchecked Sendable {  // driver-confined: touched only by jobs and timers of one simulation
    enum State { case open, closed, broken }

    let id: Int
    let client: ClientEndpoint
    let continuation: WatchStream.Continuation
    var state = State.open
    /// The server-side task forwarding the store's stream; cancelled when the channel ends.
    var forwarder: Task<Void, Never>?
    /// Global nanoseconds of the last scheduled delivery (deliveries keep their order).
    var lastDelivery: Int64 = 0

    init(id: Int, client: ClientEndpoint, continuation: WatchStream.Continuation) {
        self.id = id
        self.client = client
        self.continuation = continuation
    }
}

/// Who a client is on the network: its name (partitions apply to it across restarts) and its
/// scheduler node (one incarnation).
struct ClientEndpoint: Sendable {
    let name: String
    /// The network's index for `name` (its link).
    let link: Int
    let node: Int32
    let clock: SimulatedClock
}

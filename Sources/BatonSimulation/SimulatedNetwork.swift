import Baton
import BatonCore

/// The simulated network between client nodes and the server node.
///
/// Every request is a message with a latency drawn on the network's random stream; the handler runs
/// on the server node; the reply travels back. Messages can be lost; partitions (symmetric or one-way)
/// drop what crosses them; a partition that lasts ``NetworkConditions/failureDetection`` marks the
/// connection down, failing pending requests and breaking watches with `unavailable`.
// @unchecked Sendable: driver-confined: touched only by jobs and timers of one simulation
final class SimulatedNetwork: @unchecked Sendable {
    struct Link {
        var toServerBlocked = false
        var fromServerBlocked = false
        var connectionDown = false
        var epoch = 0
        var inFlight: [any InFlight] = []
    }

    let scheduler: Scheduler
    let trace: Trace
    let server: SimulatedServer
    var conditions: NetworkConditions
    /// Extra one-way latency from an active delay fault.
    var extraLatency: Duration = .zero
    /// Extra loss probability from an active loss fault.
    var extraLoss: Double = 0
    /// Probability that a request or reply stalls for 0.5–4 s (an active stall fault).
    var stall: Double = 0
    private var random: SplitMix64
    private var links: [Link] = []
    private var linkNames: [String] = []
    private var channels: [Int: WatchChannel] = [:]
    private var nextID = 0
    /// Requests sent, messages dropped (lost or partitioned).
    private(set) var sent = 0, dropped = 0

    init(scheduler: Scheduler, trace: Trace, server: SimulatedServer, conditions: NetworkConditions, seed: UInt64) {
        self.scheduler = scheduler
        self.trace = trace
        self.server = server
        self.conditions = conditions
        self.random = SplitMix64(seed: seed)
    }

    private func latency() -> Int64 {
        let low = conditions.latency.lowerBound.nanoseconds, high = conditions.latency.upperBound.nanoseconds
        let base = high > low ? low + Int64(random.next() % UInt64(high - low + 1)) : low
        return base + extraLatency.nanoseconds
    }

    /// Latency of a request or reply: the usual draw, sometimes stalled.
    private func rpcLatency() -> Int64 {
        var value = latency()
        if stall > 0, Double(random.next() >> 11) / Double(1 << 53) < stall {
            value += 500_000_000 + Int64(random.next() % 3_500_000_000)
        }
        return value
    }

    private func lost() -> Bool {
        let p = conditions.loss + extraLoss
        return p > 0 && Double(random.next() >> 11) / Double(1 << 53) < p
    }

    /// The link index of client `name` (created on first use).
    func link(for name: String) -> Int {
        if let index = linkNames.firstIndex(of: name) { return index }
        linkNames.append(name)
        links.append(Link())
        return links.count - 1
    }

    private func issueID() -> Int {
        nextID += 1
        return nextID
    }

    // MARK: Requests

    /// Sends a request from `client`; the handler runs in one job on the server's store, and its
    /// result resolves `pending` when the reply arrives.
    func send<R: Sendable>(
        from client: ClientEndpoint, _ kind: @autoclosure () -> String, _ pending: PendingReply<R>,
        _ handler: @escaping @Sendable (isolated LocalStore, SimulatedServer) throws -> R
    ) {
        let id = issueID()
        sent += 1
        trace.event(1, Int64(id), Int64(client.node), "\(client.name) -> server #\(id) \(kind())")
        if links[client.link].connectionDown {
            scheduler.after(conditions.dialTimeout, node: client.node) {
                pending.resolve(.failure(BatonError(.unavailable, "connection to the server is down")))
            }
            return
        }
        let timeoutAt = client.clock.global(
            client.clock.local(scheduler.nowNanoseconds) &+ conditions.requestTimeout.nanoseconds)
        scheduler.schedule(at: timeoutAt, node: client.node, pending)
        if links[client.link].inFlight.count > 64 { links[client.link].inFlight.removeAll { !$0.isPending } }
        links[client.link].inFlight.append(pending)
        if links[client.link].toServerBlocked || lost() {
            drop(id, "request")
            return
        }
        scheduler.after(.nanoseconds(rpcLatency()), node: server.node) { [self] in
            guard !links[client.link].toServerBlocked else { return drop(id, "request") }
            server.deliver { store in
                let result = Result { try handler(store, self.server) }
                self.reply(to: client, id, pending, result)
            }
        }
    }

    private func reply<R: Sendable>(
        to client: ClientEndpoint, _ id: Int, _ pending: PendingReply<R>, _ result: Result<R, any Error>
    ) {
        if links[client.link].fromServerBlocked || lost() { return drop(id, "reply") }
        scheduler.after(.nanoseconds(rpcLatency()), node: client.node) { [self] in
            guard !links[client.link].fromServerBlocked else { return drop(id, "reply") }
            guard scheduler.state(of: client.node) != .crashed else { return }
            trace.event(2, Int64(id), Int64(client.node), "server -> \(client.name) #\(id) reply")
            pending.resolve(result)
        }
    }

    private func drop(_ id: Int, _ what: String) {
        dropped += 1
        trace.event(3, Int64(id), 0, "dropped #\(id) \(what)")
    }

    // MARK: Watches

    /// Opens a channel for a client's watch stream.
    func openChannel(for client: ClientEndpoint, _ continuation: WatchStream.Continuation) -> WatchChannel {
        let channel = WatchChannel(id: issueID(), client: client, continuation: continuation)
        channels[channel.id] = channel
        return channel
    }

    /// Called in the server's job once the store registered the watch: forwards its stream.
    func startForwarding(_ channel: WatchChannel, _ stream: WatchStream) {
        guard channel.state == .open else { return }
        channel.forwarder = Task(executorPreference: server.taskExecutor) { [self] in
            do {
                for try await response in stream { forward(channel, .success(response)) }
                forward(channel, .failure(BatonError(.alreadyClosed, "the server ended the watch")))
            } catch {
                forward(channel, .failure(error))
            }
        }
    }

    private func forward(_ channel: WatchChannel, _ message: Result<WatchResponse, any Error>) {
        guard channel.state == .open else { return }
        if links[channel.client.link].fromServerBlocked { return breakChannel(channel) }
        let at = max(channel.lastDelivery, scheduler.nowNanoseconds &+ latency())
        channel.lastDelivery = at
        scheduler.schedule(
            at: at, node: channel.client.node,
            ActionTimer { [self] in
                guard channel.state == .open, scheduler.state(of: channel.client.node) != .crashed else { return }
                if links[channel.client.link].fromServerBlocked { return breakChannel(channel) }
                switch message {
                case .success(let response):
                    trace.event(
                        4, Int64(channel.id), response.revision,
                        "server -> \(channel.client.name) watch w\(channel.id) rev \(response.revision)")
                    channel.continuation.yield(response)
                case .failure(let error):
                    end(channel, .closed)
                    channel.continuation.finish(throwing: error)
                }
            })
    }

    /// The client stopped consuming (or its stream ended): tell the server to cancel its side.
    func clientTerminated(_ channel: WatchChannel) {
        guard channel.state == .open else { return }
        end(channel, .closed)
        let forwarder = channel.forwarder
        scheduler.after(.nanoseconds(latency()), node: server.node) { forwarder?.cancel() }
    }

    /// Ends the channel: the client's stream fails with `unavailable`, the server's side is cancelled.
    func breakChannel(_ channel: WatchChannel) {
        guard channel.state == .open else { return }
        end(channel, .broken)
        channel.forwarder?.cancel()
        trace.event(5, Int64(channel.id), 0, "watch w\(channel.id) of \(channel.client.name) broken")
        channel.continuation.finish(throwing: BatonError(.unavailable, "watch stream broken: connection lost"))
    }

    private func end(_ channel: WatchChannel, _ state: WatchChannel.State) {
        channel.state = state
        channels[channel.id] = nil
    }

    /// Channels still open whose client is not crashed (leftovers at the end of a run).
    var openChannels: [(id: Int, client: String)] {
        channels.keys.sorted().compactMap { id in
            let channel = channels[id]!
            return scheduler.state(of: channel.client.node) == .crashed ? nil : (id, channel.client.name)
        }
    }

    // MARK: Faults

    /// Blocks messages between `client` and the server in the given directions (adding to what is
    /// already blocked). After ``NetworkConditions/failureDetection`` the connection goes down.
    func block(_ client: String, toServer: Bool, fromServer: Bool) {
        let index = link(for: client)
        var link = links[index]
        let wasBlocked = link.toServerBlocked || link.fromServerBlocked
        link.toServerBlocked = link.toServerBlocked || toServer
        link.fromServerBlocked = link.fromServerBlocked || fromServer
        links[index] = link
        guard !wasBlocked else { return }
        let epoch = link.epoch
        scheduler.after(conditions.failureDetection, node: -1) { [self] in
            guard links[index].epoch == epoch else { return }
            links[index].connectionDown = true
            let pending = links[index].inFlight
            links[index].inFlight.removeAll()
            trace.note("connection \(client) <-> server down")
            for call in pending { call.failUnavailable() }
            for id in channels.keys.sorted() where channels[id]!.client.name == client { breakChannel(channels[id]!) }
        }
    }

    /// Unblocks every direction between `client` and the server; the connection comes back up.
    func heal(_ client: String) {
        let index = link(for: client)
        guard links[index].toServerBlocked || links[index].fromServerBlocked || links[index].connectionDown else {
            return
        }
        links[index].toServerBlocked = false
        links[index].fromServerBlocked = false
        links[index].connectionDown = false
        links[index].epoch += 1
    }

    /// Clients with a blocked direction, sorted.
    var partitioned: [String] {
        links.indices.filter { links[$0].toServerBlocked || links[$0].fromServerBlocked }.map { linkNames[$0] }.sorted()
    }

    /// A crashed client's connection: after failure detection the server drops its watches.
    func clientCrashed(_ node: Int32) {
        scheduler.after(conditions.failureDetection, node: -1) { [self] in
            for id in channels.keys.sorted() where channels[id]!.client.node == node {
                let channel = channels[id]!
                end(channel, .broken)
                channel.forwarder?.cancel()
            }
        }
    }
}

/// A request in flight, failed with `unavailable` when its connection is found down.
protocol InFlight: AnyObject {
    var isPending: Bool { get }
    func failUnavailable()
}

extension PendingReply: InFlight {
    var isPending: Bool { isLive }
    func failUnavailable() { resolve(.failure(BatonError(.unavailable, "connection to the server lost"))) }
}

import Baton

extension SimulationWorld {
    /// Pauses `name` (a client or `server`): its jobs are held until ``resume(_:)``. Pauses nest.
    public func pause(_ name: String) {
        if name == "server" {
            serverPauses += 1
            if serverPauses == 1 { scheduler.pause(server.node) }
        } else if let record = records[name], let node = record.current {
            record.pauses += 1
            if record.pauses == 1 { scheduler.pause(node.index) }
        } else {
            return
        }
        trace.note("fault: pause \(name)")
    }

    /// Ends one pause of `name`; its held jobs run again once every pause ended.
    public func resume(_ name: String) {
        if name == "server" {
            guard serverPauses > 0 else { return }
            serverPauses -= 1
            if serverPauses == 0 { scheduler.resume(server.node) }
        } else if let record = records[name], record.pauses > 0, let node = record.current {
            record.pauses -= 1
            if record.pauses == 0 { scheduler.resume(node.index) }
        } else {
            return
        }
        trace.note("fault: resume \(name)")
    }

    /// Crashes client `name`: its jobs freeze forever and its traffic is dropped; nothing is cancelled,
    /// so no clean-up runs. Its leases expire on the server after their TTL.
    public func crash(_ name: String) {
        guard let record = records[name], record.state != .crashed, let node = record.current else { return }
        record.state = .crashed
        record.pauses = 0
        scheduler.crash(node.index)
        network.clientCrashed(node.index)
        trace.note("fault: crash \(node.label)")
        checkPrograms()
    }

    /// Restarts a crashed client `name` as a new incarnation running its program from the start.
    public func restart(_ name: String) {
        guard let record = records[name], record.state == .crashed else { return }
        trace.note("fault: restart \(name)")
        startIncarnation(record)
    }

    /// Cuts client `name` off from the server in `direction` until ``heal(_:_:)``. Partitions nest.
    public func partition(_ name: String, _ direction: FaultPlan.Direction = .both) {
        guard let record = records[name] else { return }
        if direction != .fromServer { record.blockedTo += 1 }
        if direction != .toServer { record.blockedFrom += 1 }
        network.block(name, toServer: record.blockedTo > 0, fromServer: record.blockedFrom > 0)
        trace.note("fault: \(direction.rawValue) \(name)")
    }

    /// Ends one partition of `name` in `direction`; the link heals once none remains.
    public func heal(_ name: String, _ direction: FaultPlan.Direction = .both) {
        guard let record = records[name] else { return }
        if direction != .fromServer { record.blockedTo = max(0, record.blockedTo - 1) }
        if direction != .toServer { record.blockedFrom = max(0, record.blockedFrom - 1) }
        network.heal(name)
        if record.blockedTo > 0 || record.blockedFrom > 0 {
            network.block(name, toServer: record.blockedTo > 0, fromServer: record.blockedFrom > 0)
        }
        trace.note("fault: heal \(name)")
    }

    /// Schedules every timed fault of `plan` at its absolute start time (drift applies when a node is
    /// added). Faults naming nodes that do not exist when they fire are ignored.
    public func apply(_ plan: FaultPlan) {
        for fault in plan.faults {
            switch fault {
            case .pause(let node, let at, let duration):
                at_(at) { self.pause(node) }
                at_(at + duration) { self.resume(node) }
            case .crash(let node, let at, let restart):
                at_(at) { self.crash(node) }
                if let restart { at_(at + restart) { self.restart(node) } }
            case .partition(let node, let direction, let at, let duration):
                at_(at) { self.partition(node, direction) }
                at_(at + duration) { self.heal(node, direction) }
            case .loss(let perMille, let at, let duration):
                at_(at) {
                    self.activeLoss.append(perMille); self.updateNetworkFaults()
                }
                at_(at + duration) {
                    self.activeLoss.removeFirst(); self.updateNetworkFaults()
                }
            case .delay(let extra, let at, let duration):
                at_(at) {
                    self.activeDelay.append(extra); self.updateNetworkFaults()
                }
                at_(at + duration) {
                    self.activeDelay.removeFirst(); self.updateNetworkFaults()
                }
            case .stall(let perMille, let at, let duration):
                at_(at) {
                    self.activeStall.append(perMille); self.updateNetworkFaults()
                }
                at_(at + duration) {
                    self.activeStall.removeFirst(); self.updateNetworkFaults()
                }
            case .drift:
                break
            }
        }
    }

    private func at_(_ instant: Duration, _ action: @escaping () -> Void) {
        let timer = ActionTimer(action)
        scheduler.schedule(at: instant.nanoseconds, node: -1, timer)
        faultTimers.append(timer)
    }

    private func updateNetworkFaults() {
        network.extraLoss = Double(activeLoss.reduce(0, +)) / 1000
        network.extraLatency = activeDelay.max() ?? .zero
        network.stall = Double(activeStall.reduce(0, +)) / 1000
        trace.note(
            "fault: network loss \(network.extraLoss) stall \(network.stall) extra latency \(network.extraLatency)")
    }

    /// Ends the fault phase: cancels the plan's pending faults, resumes every paused node, heals every
    /// partition and clears loss and delay. Crashed nodes stay crashed.
    public func healAll() {
        for timer in faultTimers { timer.cancel() }
        faultTimers.removeAll()
        while serverPauses > 0 { resume("server") }
        for name in recordOrder {
            let record = records[name]!
            while record.pauses > 0 { resume(name) }
            if record.blockedTo > 0 || record.blockedFrom > 0 {
                record.blockedTo = 0
                record.blockedFrom = 0
                network.heal(name)
            }
        }
        activeLoss.removeAll()
        activeDelay.removeAll()
        activeStall.removeAll()
        network.stall = 0
        network.extraLoss = 0
        network.extraLatency = .zero
        trace.note("fault: heal all")
    }
}

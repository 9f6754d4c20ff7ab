import CLibc

/// The restart logic: a pure value type, `(phase, event) -> (phase, actions)`.
/// No syscalls, no clock: the reactor passes the time of each event in.
///
/// Every phase × event pair is written out below; "ignored" is an outcome too,
/// and says why it cannot matter.
public struct SupervisionTable: Sendable {
    public let configuration: SupervisionConfiguration
    public internal(set) var phase: SupervisionPhase = .idle

    /// Consecutive fast failures (runs shorter than the reset window, or failed spawns).
    public internal(set) var consecutiveFailures = 0
    /// Starts after the first one.
    public internal(set) var restarts = 0
    /// A child has run at least once (exec failures are fatal only before).
    public private(set) var hasStarted = false
    public internal(set) var lastExit: TerminationStatus?
    /// Identical capped exits not yet reported, and since when.
    var foldedCount = 0
    var foldedSince: MonotonicInstant?
    var foldedLastAt: MonotonicInstant?

    /// The gate's schedule (nil without a gate): failed probes, grace,
    /// reminders, stale searches and the wait before the next probe.
    public private(set) var gate: GateSchedule?
    public var failedProbes: Int { gate?.failedProbes ?? 0 }
    public var lastProbeFailure: ProbeFailure? { gate?.lastProbeFailure }
    /// The holder grace ended with the device still unavailable: warned.
    public var gateWarned: Bool { gate?.warned ?? false }

    public init(configuration: SupervisionConfiguration) {
        self.configuration = configuration
        gate = configuration.gate.map(GateSchedule.init(timing:))
    }

    public var isFinished: Bool {
        if case .finished = phase { return true }
        return false
    }

    /// True while crash-loop lines are being folded (started lines go to debug).
    public var isFolding: Bool { foldedSince != nil }

    // MARK: The transition table

    public mutating func handle(_ event: SupervisionEvent, at now: MonotonicInstant) -> SupervisionActions {
        var actions = SupervisionActions()
        switch phase {
        case .idle:
            switch event {
            case .start:
                // Ready as soon as supervision runs, before the gate: a device
                // held or absent for minutes must not hold a service manager's
                // start job (systemd would time it out, kill and restart
                // monitord, and delay boot). The wait is reported in STATUS=.
                actions.append(.notify(.ready))
                beginStart(at: now, &actions)
            case .signal(let signal) where Signals.isStop(signal):
                stopWithoutChild(signal, &actions)
            case .signal(let signal):
                actions.append(.log(.dropped(signal: signal)))
            case .spawned, .spawnFailed, .childExited, .deadline, .probeSucceeded, .probeFailed, .deviceMayBeFree:
                break  // Ignored: nothing has been started, armed or probed yet.
            }

        case .probing:
            switch event {
            case .probeSucceeded:
                actions.append(.cancelDeadline)
                if let ready = gate?.succeeded(at: now) { actions.append(.log(ready)) }
                phase = .starting
                actions.append(.spawn)
            case .probeFailed(let failure):
                actions.append(.cancelDeadline)
                probeFailed(failure, at: now, &actions)
            case .deadline:
                actions.append(.abortProbe)
                probeFailed(ProbeFailure(stage: .timeout, errno: ETIMEDOUT), at: now, &actions)
            case .signal(let signal) where Signals.isStop(signal):
                actions.append(.abortProbe)
                actions.append(.cancelDeadline)
                stopWithoutChild(signal, &actions)
            case .signal(let signal):
                actions.append(.log(.dropped(signal: signal)))
            case .start, .spawned, .spawnFailed, .childExited:
                break  // Ignored: no child exists while probing; start happens once.
            case .deviceMayBeFree:
                break  // Ignored: the probe under way has the device open or will fail on its own.
            }

        case .waitingForDevice:
            switch event {
            case .deadline:
                beginProbe(at: now, &actions)
            case .deviceMayBeFree:
                // Probe at once, or shorten the wait (GateSchedule.released).
                switch gate?.released(at: now) {
                case .probeNow: beginProbe(at: now, &actions)
                case .probeAfter(let delay): actions.append(.armDeadline(delay))
                case .keepWaiting, nil: break
                }
            case .signal(let signal) where Signals.isStop(signal):
                actions.append(.cancelDeadline)
                stopWithoutChild(signal, &actions)
            case .signal(let signal):
                actions.append(.log(.dropped(signal: signal)))
            case .start, .spawned, .spawnFailed, .childExited, .probeSucceeded, .probeFailed:
                break  // Ignored: no child and no probe exist while waiting.
            }

        case .starting:
            switch event {
            case .spawned(let pid):
                phase = .running(pid: pid, since: now)
                actions.append(.log(.started(pid: pid, restart: hasStarted ? restarts : 0, quiet: isFolding)))
                hasStarted = true
            case .spawnFailed(let failure):
                spawnFailed(failure, at: now, &actions)
            case .start, .childExited, .deadline, .signal, .probeSucceeded, .probeFailed, .deviceMayBeFree:
                break  // Unreachable: the reactor answers the spawn action before reading any other event.
            }

        case .running(let pid, let since):
            switch event {
            case .childExited(let status):
                childExited(pid: pid, status: status, runTime: now - since, at: now, &actions)
            case .signal(let signal) where Signals.isStop(signal) && configuration.stopTimeout == .zero:
                // No time to close anything: SIGKILL to the group in this turn
                // (a stop signal first would only delay it by a loop turn).
                phase = .killing(pid: pid)
                actions.append(.killGroup)
                actions.append(.endDeviceWatch)
                actions.append(.log(.stopping(signal: signal, pid: pid)))
                actions.append(.notify(.stopping))
                actions.append(.armDeadline(configuration.killGrace))
            case .signal(let signal) where Signals.isStop(signal):
                phase = .stopping(pid: pid)
                // The signals before the words: the stop reaches the player
                // first. The whole group at once, as systemd's default KillMode
                // does: a player's pipeline (rtl_fm | redsea | aplay under a
                // script) ends alongside it instead of only after it has been reaped.
                actions.append(.signalGroup(signal))
                // A stopped process (SIGSTOP, a debugger) acts on the stop signal
                // only once continued; without this it would be SIGKILLed at the
                // stop timeout with no chance to close its device (as systemd does).
                actions.append(.signalGroup(SIGCONT))
                actions.append(.endDeviceWatch)
                actions.append(.log(.stopping(signal: signal, pid: pid)))
                actions.append(.notify(.stopping))
                actions.append(.armDeadline(configuration.stopTimeout))
            case .signal(let signal):
                actions.append(.log(.forwarded(signal: signal, pid: pid)))
                actions.append(.signalChild(signal))
            case .start, .spawned, .spawnFailed, .deadline, .probeSucceeded, .probeFailed, .deviceMayBeFree:
                break  // Ignored: nothing is armed or probing while the child runs.
            }

        case .backingOff:
            switch event {
            case .deadline:
                beginStart(at: now, &actions)
            case .signal(let signal) where Signals.isStop(signal):
                actions.append(.cancelDeadline)
                stopWithoutChild(signal, &actions)
            case .signal(let signal):
                actions.append(.log(.dropped(signal: signal)))
            case .start, .spawned, .spawnFailed, .childExited, .probeSucceeded, .probeFailed, .deviceMayBeFree:
                break  // Ignored: no child and no probe exist during the wait (the backoff comes first).
            }

        case .stopping(let pid):
            switch event {
            case .childExited(let status):
                actions.append(.cancelDeadline)
                finish(0, after: .stopped(pid: pid, status: status), &actions)
            case .deadline:
                phase = .killing(pid: pid)
                actions.append(.log(.killedAfterTimeout(pid: pid, timeout: configuration.stopTimeout)))
                actions.append(.killGroup)
                actions.append(.armDeadline(configuration.killGrace))
            case .signal(let signal) where Signals.isStop(signal):
                // A second stop request (Ctrl-C twice): do not make them wait.
                phase = .killing(pid: pid)
                actions.append(.log(.hurrying(signal: signal, pid: pid)))
                actions.append(.killGroup)
                actions.append(.armDeadline(configuration.killGrace))
            case .signal(let signal):
                actions.append(.log(.forwarded(signal: signal, pid: pid)))
                actions.append(.signalChild(signal))
            case .start, .spawned, .spawnFailed, .probeSucceeded, .probeFailed, .deviceMayBeFree:
                break  // Ignored: nothing starts or probes once a stop began.
            }

        case .killing(let pid):
            switch event {
            case .childExited(let status):
                actions.append(.cancelDeadline)
                finish(0, after: .stopped(pid: pid, status: status), &actions)
            case .deadline:
                // SIGKILL did not work (uninterruptible sleep in a driver).
                // Waiting longer only delays the service manager's own cleanup.
                finish(0, after: .unkillable(pid: pid), &actions)
            case .signal(let signal):
                actions.append(.log(.dropped(signal: signal)))
            case .start, .spawned, .spawnFailed, .probeSucceeded, .probeFailed, .deviceMayBeFree:
                break  // Ignored: SIGKILL is on its way; nothing else can help.
            }

        case .finished:
            break  // Ignored: monitord is exiting.
        }
        return actions
    }

    // MARK: Steps shared by several rows

    /// Starts the child, through the gate if there is one.
    mutating func beginStart(at now: MonotonicInstant, _ actions: inout SupervisionActions) {
        if configuration.gate != nil {
            beginProbe(at: now, &actions)
        } else {
            phase = .starting
            actions.append(.spawn)
        }
    }

    private mutating func beginProbe(at now: MonotonicInstant, _ actions: inout SupervisionActions) {
        guard let timing = configuration.gate else { return }
        phase = .probing
        gate?.probeBegins(at: now)
        actions.append(.startProbe)
        actions.append(.armDeadline(timing.probeDeadline))
    }

    private mutating func probeFailed(_ failure: ProbeFailure, at now: MonotonicInstant, _ actions: inout SupervisionActions) {
        guard let delay = gate?.failed(failure, at: now, &actions) else { return }
        phase = .waitingForDevice
        actions.append(.armDeadline(delay))
    }

    /// A stop request while no child runs: nothing to wait for.
    private mutating func stopWithoutChild(_ signal: Int32, _ actions: inout SupervisionActions) {
        actions.append(.notify(.stopping))
        finish(0, after: .stopWhileWaiting(signal: signal), &actions)
    }

    mutating func finish(_ code: Int32, after record: LogRecord, _ actions: inout SupervisionActions) {
        phase = .finished(exitCode: code)
        endFold(&actions)
        actions.append(.log(record))
        actions.append(.exit(code))
    }
}

import CLibc

/// The restart logic: a pure value type, `(phase, event) -> (phase, actions)`.
/// No syscalls, no clock: the reactor passes the time of each event in.
///
/// Every phase × event pair is written out below; "ignored" is an outcome too,
/// and says why it cannot matter.
public struct SupervisionTable: Sendable {
    public let configuration: SupervisionConfiguration
    public private(set) var phase: SupervisionPhase = .idle

    /// Consecutive fast failures (runs shorter than the reset window, or failed spawns).
    public private(set) var consecutiveFailures = 0
    /// Starts after the first one.
    public private(set) var restarts = 0
    /// A child has run at least once (exec failures are fatal only before).
    public private(set) var hasStarted = false
    public private(set) var lastExit: TerminationStatus?
    /// Identical capped exits not yet reported, and since when.
    private var foldedCount = 0
    private var foldedSince: MonotonicInstant?
    private var foldedLastAt: MonotonicInstant?

    /// The gate: consecutive failed probes, since when, and the last reason.
    public private(set) var failedProbes = 0
    public private(set) var lastProbeFailure: ProbeFailure?
    private var firstProbeFailureAt: MonotonicInstant?
    private var remindersGiven = 0
    /// The holder grace ended with the device still unavailable: warned.
    public private(set) var gateWarned = false
    /// The failed-probe count at which the next stale-player search happens.
    private var nextStaleSearch = 0
    /// When the last probe began, and when the next one is due while waiting.
    private var lastProbeAt: MonotonicInstant?
    private var nextProbeAt: MonotonicInstant?
    /// A release was seen and the next probe answers it.
    private var releaseSeen = false
    /// Failed probes since one that answered a release (nil: none since).
    /// The kernel reports a node closed before its driver has let go of the
    /// device, so a probe right after a release can still find it busy:
    /// those are retried at the retry, doubling, before the grown wait resumes.
    private var failuresSinceRelease: Int?

    public init(configuration: SupervisionConfiguration) {
        self.configuration = configuration
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
                if failedProbes > 0, let first = firstProbeFailureAt {
                    actions.append(.log(.deviceReady(after: now - first, probes: failedProbes + 1, warned: gateWarned)))
                }
                resetGate()
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
                // Probe at once, but never sooner than the release gap after
                // the last probe began (a device that is opened and closed all
                // the time must not make the gate spin): then the wait is shortened.
                let earliest = (lastProbeAt ?? now) + (configuration.gate?.releaseGap ?? .zero)
                releaseSeen = true
                if now >= earliest {
                    beginProbe(at: now, &actions)
                } else if let due = nextProbeAt, due <= earliest {
                    break  // The next probe comes sooner anyway.
                } else {
                    nextProbeAt = earliest
                    actions.append(.armDeadline(earliest - now))
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
            case .signal(let signal) where Signals.isStop(signal):
                phase = .stopping(pid: pid)
                actions.append(.log(.stopping(signal: signal, pid: pid)))
                actions.append(.notify(.stopping))
                actions.append(.signalChild(signal))
                // A stopped child (SIGSTOP, a debugger) acts on the stop signal
                // only once continued; without this it would be SIGKILLed at the
                // stop timeout with no chance to close its device (as systemd does).
                actions.append(.signalChild(SIGCONT))
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
    private mutating func beginStart(at now: MonotonicInstant, _ actions: inout SupervisionActions) {
        if configuration.gate != nil {
            beginProbe(at: now, &actions)
        } else {
            phase = .starting
            actions.append(.spawn)
        }
    }

    private mutating func beginProbe(at now: MonotonicInstant, _ actions: inout SupervisionActions) {
        guard let gate = configuration.gate else { return }
        phase = .probing
        lastProbeAt = now
        nextProbeAt = nil
        if releaseSeen {
            releaseSeen = false
            failuresSinceRelease = 0
        }
        actions.append(.startProbe)
        actions.append(.armDeadline(gate.probeDeadline))
    }

    private mutating func probeFailed(_ failure: ProbeFailure, at now: MonotonicInstant, _ actions: inout SupervisionActions) {
        guard let gate = configuration.gate else { return }
        failedProbes += 1
        lastProbeFailure = failure
        if failedProbes == 1 {
            firstProbeFailureAt = now
            remindersGiven = 0
            gateWarned = false
            actions.append(.log(.deviceUnavailable(failure)))
            // The seed's rule: look at the first failed probe. With no grace
            // the warning below looks at once instead.
            if gate.holderGrace > .zero { actions.append(.reportHolders) }
        }
        let first = firstProbeFailureAt ?? now
        if !gateWarned && now - first >= gate.holderGrace {
            gateWarned = true
            actions.append(.log(.deviceUnavailableAfterGrace(failure, probes: failedProbes, waited: now - first)))
            actions.append(.warnHolders)
            // A grace longer than the first reminders: they are not due again.
            while now >= gate.reminder(remindersGiven, after: first) { remindersGiven += 1 }
        } else if gateWarned && failedProbes > 1 && now >= gate.reminder(remindersGiven, after: first) {
            // Catch up silently if the machine slept through several reminders.
            while now >= gate.reminder(remindersGiven, after: first) { remindersGiven += 1 }
            actions.append(.log(.deviceStillUnavailable(failure, probes: failedProbes, waited: now - first)))
        }
        if failedProbes == 1 { nextStaleSearch = gate.staleAfter }
        if failedProbes == nextStaleSearch {
            // A search scans all of /proc (milliseconds on a Pi). When the
            // holder is not a stale player, searching every few probes only
            // burns CPU: the gap doubles, up to 32 × stale-after probes.
            nextStaleSearch += min(failedProbes, gate.staleAfter * 32)
            actions.append(.log(.staleSearch(failedProbes: failedProbes)))
            actions.append(.reapStalePlayers)
        }
        phase = .waitingForDevice
        var delay = gate.retryDelay(waited: now - (firstProbeFailureAt ?? now))
        if let failures = failuresSinceRelease {
            var followUp = gate.probeRetry
            for _ in 0..<min(failures, 32) { followUp = followUp + followUp }
            if followUp < delay {
                delay = followUp
                failuresSinceRelease = failures + 1
            } else {
                failuresSinceRelease = nil
            }
        }
        // "Still unavailable after the grace" is a probe's finding: one comes
        // when the grace ends, however long the waits have grown.
        if !gateWarned, let first = firstProbeFailureAt {
            let graceLeft = first + gate.holderGrace - now
            if graceLeft > .zero && graceLeft < delay { delay = graceLeft }
        }
        nextProbeAt = now + delay
        actions.append(.armDeadline(delay))
    }

    private mutating func resetGate() {
        failedProbes = 0
        nextStaleSearch = 0
        firstProbeFailureAt = nil
        remindersGiven = 0
        gateWarned = false
        lastProbeFailure = nil
        nextProbeAt = nil
        releaseSeen = false
        failuresSinceRelease = nil
    }

    private mutating func childExited(
        pid: Int32, status: TerminationStatus, runTime: Duration, at now: MonotonicInstant,
        _ actions: inout SupervisionActions
    ) {
        defer { lastExit = status }
        if status.isSuccess && configuration.restart == .onFailure {
            finish(0, after: .finishedCleanly(pid: pid, runTime: runTime), &actions)
            return
        }
        // From here on an exit 0 (restart always) is treated as any other:
        // a short run is a fast failure, so a player that exits 0 at once
        // because its output is busy backs off instead of looping.
        if configuration.backoff.isHealthy(runTime: runTime) {
            consecutiveFailures = 0
            endFold(&actions)
            actions.append(.log(.exited(pid: pid, status: status, runTime: runTime, next: .now)))
            restart(after: .zero, at: now, &actions)
            return
        }
        consecutiveFailures += 1
        let delay = configuration.backoff.delay(afterFailure: consecutiveFailures)
        let backoff = configuration.backoff
        let repeatsAtCap = backoff.isCapped(afterFailure: consecutiveFailures)
            && backoff.isCapped(afterFailure: consecutiveFailures - 1)
            && lastExit == status
        if repeatsAtCap {
            if foldedSince == nil { foldedSince = now }
            foldedLastAt = now
            foldedCount += 1
            if foldedCount % configuration.foldEvery == 0 {
                actions.append(.log(.folded(status: status, count: foldedCount, over: now - foldedSince!, next: delay)))
            }
        } else {
            endFold(&actions)
            actions.append(.log(.exited(pid: pid, status: status, runTime: runTime,
                                        next: .after(delay, failure: consecutiveFailures))))
        }
        restart(after: delay, at: now, &actions)
    }

    private mutating func spawnFailed(_ failure: SpawnFailure, at now: MonotonicInstant, _ actions: inout SupervisionActions) {
        if !hasStarted && failure.stage == .exec {
            // Like a shell: the command cannot run at all, so say so and stop.
            let code = (failure.errno == ENOENT || failure.errno == ENOTDIR) ? ExitCode.notFound : ExitCode.cannotExecute
            finish(code, after: .cannotExecute(failure), &actions)
            return
        }
        consecutiveFailures += 1
        endFold(&actions)
        let delay = configuration.backoff.delay(afterFailure: consecutiveFailures)
        actions.append(.log(.spawnFailed(failure, next: .after(delay, failure: consecutiveFailures))))
        restart(after: delay, at: now, &actions)
    }

    private mutating func restart(after delay: Duration, at now: MonotonicInstant, _ actions: inout SupervisionActions) {
        restarts += 1
        if delay <= .zero {
            beginStart(at: now, &actions)
        } else {
            phase = .backingOff(until: now + delay)
            actions.append(.armDeadline(delay))
        }
    }

    /// Ends a fold. Exits folded since the last summary line are reported
    /// first, so that every exit is in the log (the line says how many in all).
    private mutating func endFold(_ actions: inout SupervisionActions) {
        if foldedCount % configuration.foldEvery != 0, let since = foldedSince, let last = foldedLastAt, let status = lastExit {
            actions.append(.log(.folded(status: status, count: foldedCount, over: last - since, next: configuration.backoff.maximum)))
        }
        foldedCount = 0
        foldedSince = nil
        foldedLastAt = nil
    }

    /// A stop request while no child runs: nothing to wait for.
    private mutating func stopWithoutChild(_ signal: Int32, _ actions: inout SupervisionActions) {
        actions.append(.notify(.stopping))
        finish(0, after: .stopWhileWaiting(signal: signal), &actions)
    }

    private mutating func finish(_ code: Int32, after record: LogRecord, _ actions: inout SupervisionActions) {
        phase = .finished(exitCode: code)
        endFold(&actions)
        actions.append(.log(record))
        actions.append(.exit(code))
    }
}

/// Which exits start the command again (systemd's `Restart=` words).
public enum RestartPolicy: String, Equatable, Sendable {
    /// Exit 0 ends supervision; any other exit or a signal restarts
    /// (process_monitor.py's contract).
    case onFailure = "on-failure"
    /// Every exit restarts, exit 0 too (squeezelite exits 0 when it cannot
    /// open its output); only a stop signal ends supervision.
    case always
}

/// Everything the state machine needs to decide, fixed at start-up.
public struct SupervisorConfiguration: Equatable, Sendable {
    public var backoff: BackoffPolicy
    public var restart: RestartPolicy
    /// How long a stop signal may take before the group gets SIGKILL.
    public var stopTimeout: Duration
    /// How long to wait for an exit after SIGKILL before giving up on the child.
    public var killGrace: Duration
    /// nil: commands that do not play to an ALSA loopback start without a probe.
    public var gate: GateConfiguration?
    /// At the backoff cap, identical exits are logged once per this many.
    public var foldEvery: Int

    public init(
        backoff: BackoffPolicy = .standard,
        restart: RestartPolicy = .onFailure,
        stopTimeout: Duration = .seconds(3),
        killGrace: Duration = .seconds(1),
        gate: GateConfiguration? = nil,
        foldEvery: Int = 10
    ) {
        self.backoff = backoff
        self.restart = restart
        self.stopTimeout = stopTimeout
        self.killGrace = killGrace
        self.gate = gate
        self.foldEvery = max(foldEvery, 1)
    }
}

/// The ALSA readiness gate's timing.
public struct GateConfiguration: Equatable, Sendable {
    /// How much silence the probe writes (the device must also have played
    /// at least two periods of it).
    public var probeDuration: Duration
    /// A probe that has not finished by then failed (the device never drained).
    public var probeDeadline: Duration
    /// The first wait after a failed probe.
    public var probeRetry: Duration
    /// The longest wait between failed probes: waits grow from `probeRetry`
    /// with the time already waited (a quarter of it) up to this.
    public var probeInterval: Duration
    /// Consecutive failed probes before looking for a stale player (and every
    /// this many after).
    public var staleAfter: Int
    /// Reminders while waiting, measured from the first failure; the last
    /// entry's spacing repeats.
    public var reminders: [Duration]

    public static let defaultProbeDuration: Duration = .milliseconds(50)
    public static let defaultProbeRetry: Duration = .milliseconds(50)
    public static let defaultProbeInterval: Duration = .seconds(4)
    public static let defaultStaleAfter = 20

    public init(
        probeDuration: Duration = GateConfiguration.defaultProbeDuration,
        probeDeadline: Duration? = nil,
        probeRetry: Duration = GateConfiguration.defaultProbeRetry,
        probeInterval: Duration = GateConfiguration.defaultProbeInterval,
        staleAfter: Int = GateConfiguration.defaultStaleAfter,
        reminders: [Duration] = [.seconds(60), .seconds(300), .seconds(900)]
    ) {
        self.probeDuration = probeDuration
        // Playing N of silence into a buffer of at most N takes about N; twice
        // that plus a second is generous for a loaded Pi, and still bounded.
        self.probeDeadline = probeDeadline ?? (probeDuration * 2 + .seconds(1))
        self.probeInterval = probeInterval
        self.probeRetry = min(probeRetry, probeInterval)
        self.staleAfter = max(staleAfter, 1)
        self.reminders = reminders.isEmpty ? [.seconds(900)] : reminders
    }

    /// The least time from one probe to the next when the device seems to
    /// have been released (a node closed): at most 50 ms, so that even with
    /// long timed waits a release is acted on at once, yet a device opened
    /// and closed all the time cannot make the gate spin.
    public var releaseGap: Duration { min(probeRetry, .milliseconds(50)) }

    /// The wait before the next probe when the device has been unavailable
    /// for `waited`: `probeRetry` at first, then a quarter of the time waited
    /// so far (so a device that comes back adds at most a quarter to the
    /// wait), never more than `probeInterval`.
    public func retryDelay(waited: Duration) -> Duration {
        let proportional = Duration.nanoseconds(max(waited.saturatingNanoseconds, 0) / 4)
        return min(max(proportional, probeRetry), probeInterval)
    }

    /// The instant of the n-th reminder (0-based) after a first failure at `start`.
    func reminder(_ index: Int, after start: MonotonicInstant) -> MonotonicInstant {
        if index < reminders.count { return start + reminders[index] }
        let last = reminders[reminders.count - 1]
        let spacing = reminders.count > 1 ? last - reminders[reminders.count - 2] : last
        return start + last + spacing * (index - reminders.count + 1)
    }
}

/// What the reactor tells the state machine.
public enum SupervisorEvent: Equatable, Sendable {
    /// Supervision begins.
    case start
    /// The spawn action produced a running child.
    case spawned(pid: Int32)
    /// The spawn action produced no running child.
    case spawnFailed(SpawnFailure)
    /// The child exited and was reaped.
    case childExited(TerminationStatus)
    /// The supervisor's single deadline timer fired.
    case deadline
    /// A signal arrived at monitord.
    case signal(Int32)
    /// The readiness probe played its silence: the device is usable.
    case probeSucceeded
    /// The readiness probe failed.
    case probeFailed(ProbeFailure)
    /// A process closed a sound device node: the gate's device may be free.
    case deviceMayBeFree
}

/// Where the supervisor is. Each phase owns at most one armed deadline.
public enum SupervisorPhase: Equatable, Sendable {
    /// Before `start`.
    case idle
    /// A readiness probe is playing silence (deadline: probe deadline).
    case probing
    /// The device was unavailable; waiting to probe again (deadline: probe interval).
    case waitingForDevice
    /// The spawn action is being carried out (transient: the reactor answers at once).
    case starting
    /// A child is running (no deadline: zero wakeups).
    case running(pid: Int32, since: MonotonicInstant)
    /// Waiting out a restart delay (deadline: the backoff).
    case backingOff(until: MonotonicInstant)
    /// A stop signal was forwarded; waiting for the exit (deadline: stop timeout).
    case stopping(pid: Int32)
    /// SIGKILL was sent to the group; waiting for the exit (deadline: kill grace).
    case killing(pid: Int32)
    /// Supervision is over; monitord exits with this code.
    case finished(exitCode: Int32)
}

/// When the next start comes after an exit.
public enum RestartPlan: Equatable, Sendable {
    /// At once: the run was healthy (or the backoff is zero).
    case now
    /// After the backoff of the given consecutive fast failure.
    case after(Duration, failure: Int)
}

/// One line of the journal, as data; the reactor renders it.
public enum LogRecord: Equatable, Sendable {
    case started(pid: Int32, restart: Int, quiet: Bool)
    case exited(pid: Int32, status: TerminationStatus, runTime: Duration, next: RestartPlan)
    case folded(status: TerminationStatus, count: Int, over: Duration, next: Duration)
    case finishedCleanly(pid: Int32, runTime: Duration)
    case spawnFailed(SpawnFailure, next: RestartPlan)
    case cannotExecute(SpawnFailure)
    case stopping(signal: Int32, pid: Int32)
    case stopWhileWaiting(signal: Int32)
    case hurrying(signal: Int32, pid: Int32)
    case killedAfterTimeout(pid: Int32, timeout: Duration)
    case stopped(pid: Int32, status: TerminationStatus)
    case unkillable(pid: Int32)
    case forwarded(signal: Int32, pid: Int32)
    case dropped(signal: Int32)
    case deviceUnavailable(ProbeFailure)
    case deviceStillUnavailable(ProbeFailure, probes: Int, waited: Duration)
    case deviceReady(after: Duration, probes: Int)
    case staleSearch(failedProbes: Int)
}

/// Messages for the service manager (sd_notify).
public enum ServiceNotification: Equatable, Sendable {
    case ready
    case stopping
}

/// What the state machine asks the reactor to do, in order.
public enum SupervisorAction: Equatable, Sendable {
    case spawn
    case armDeadline(Duration)
    case cancelDeadline
    /// Send a signal to the child (through its pidfd).
    case signalChild(Int32)
    /// SIGKILL the child's whole process group.
    case killGroup
    case startProbe
    case abortProbe
    /// Log who holds the sound devices (first failed probe).
    case reportHolders
    /// Find and end a stale player holding the gate's device.
    case reapStalePlayers
    case log(LogRecord)
    case notify(ServiceNotification)
    case exit(Int32)
}

/// A short, allocation-free list of actions (one transition needs at most six).
public struct SupervisorActions: Sequence, Equatable, Sendable, CustomStringConvertible {
    public static let capacity = 6
    private var storage: (SupervisorAction?, SupervisorAction?, SupervisorAction?,
                          SupervisorAction?, SupervisorAction?, SupervisorAction?)
    public private(set) var count: Int

    public init() {
        storage = (nil, nil, nil, nil, nil, nil)
        count = 0
    }

    public init(_ actions: [SupervisorAction]) {
        self.init()
        for action in actions { append(action) }
    }

    public mutating func append(_ action: SupervisorAction) {
        switch count {
        case 0: storage.0 = action
        case 1: storage.1 = action
        case 2: storage.2 = action
        case 3: storage.3 = action
        case 4: storage.4 = action
        case 5: storage.5 = action
        default: preconditionFailure("a transition produced more than \(Self.capacity) actions")
        }
        count += 1
    }

    public subscript(index: Int) -> SupervisorAction {
        precondition(index >= 0 && index < count)
        switch index {
        case 0: return storage.0!
        case 1: return storage.1!
        case 2: return storage.2!
        case 3: return storage.3!
        case 4: return storage.4!
        default: return storage.5!
        }
    }

    public var isEmpty: Bool { count == 0 }

    public struct Iterator: IteratorProtocol {
        let list: SupervisorActions
        var index = 0
        public mutating func next() -> SupervisorAction? {
            guard index < list.count else { return nil }
            defer { index += 1 }
            return list[index]
        }
    }

    public func makeIterator() -> Iterator { Iterator(list: self) }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.count == rhs.count && (0..<lhs.count).allSatisfy { lhs[$0] == rhs[$0] }
    }

    public var description: String { "[" + map { "\($0)" }.joined(separator: ", ") + "]" }
}

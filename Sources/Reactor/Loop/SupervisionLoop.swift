import CKernelShim
import Presentation
import Supervision
import CLibc

/// The reactor: one thread, one epoll, one timer. It turns kernel readiness
/// into `SupervisionEvent`s, feeds them to the pure `SupervisionTable`, and
/// carries out the actions it returns. The timer is armed for the earliest
/// deadline of the tables (the supervision table's, the stale round's, the
/// leftovers', the watchdog's): nothing here sleeps, and while the child is
/// healthy the process blocks in epoll_wait with no deadline but the
/// watchdog's, which exists only when the service manager asks for pings.
public final class SupervisionLoop {
    /// The reactor's own sources. Attached sources (`EventSource`: the gate's
    /// parts, the leftovers) are numbered from `firstAttached` on, in order.
    enum Source: UInt16 {
        case signals = 1
        case deadline
        case child
    }
    static let firstAttached: UInt16 = 16

    let epoll: Epoll
    let signals: SignalFD
    /// The loop's one timer, armed for `armedDeadline`.
    let timer: TimerFD
    var armedDeadline: MonotonicInstant?
    /// The supervision table's deadline (`armDeadline`), as an instant.
    var tableDeadline: MonotonicInstant?
    var watchdog: WatchdogSchedule?
    var table: SupervisionTable
    let logger: Logger
    let renderer: LogRenderer
    let command: PreparedCommand
    let hooks: LoopHooks
    let gate: (any GateDriver)?
    let leftovers: LeftoverReaper
    /// Ends a leftover that keeps the player exiting quickly (`--stale-match`).
    let quickExits: QuickExitReaper?
    /// CLOCK_MONOTONIC, or a test's fake clock: the loop's only clock.
    let clock: () -> MonotonicInstant
    /// See `ChildProcess.spawn`: true when no signal with a handler can
    /// reach this thread (monitord; not a test process).
    let spawnHandlersBlocked: Bool

    /// The running child and the generation its epoll registration carries.
    var child: ChildProcess?
    var childGeneration: UInt32 = 0
    var exitCode: Int32?
    var childPID: Int32? { child?.pid }

    /// Sources attached through a `LoopHandle`.
    var sources: [any EventSource] = []

    public init(
        command: consuming PreparedCommand,
        configuration: SupervisionConfiguration,
        gate: (any GateDriver)?,
        sources extra: [any EventSource] = [],
        quickExits quickExitSettings: QuickExitSettings? = nil,
        logger: Logger,
        hooks: LoopHooks = LoopHooks(),
        clock: @escaping () -> MonotonicInstant = { .now() },
        spawnHandlersBlocked: Bool = true
    ) throws(SystemError) {
        self.clock = clock
        self.spawnHandlersBlocked = spawnHandlersBlocked
        // SIGPIPE is ignored (not blocked): a write to a closed stderr must come
        // back as EPIPE, and a SIGPIPE we caused must never be forwarded.
        _ = ksh_signal_ignore(SIGPIPE)
        signals = try SignalFD(Signals.forwarded)
        epoll = try Epoll()
        timer = try TimerFD()
        watchdog = hooks.watchdogInterval.map { WatchdogSchedule(interval: $0, startingAt: clock()) }
        let arguments = command.arguments
        self.command = command
        self.logger = logger
        self.hooks = hooks
        self.gate = gate
        renderer = LogRenderer(commandName: Path.baseName(arguments[0]),
                               commandLine: arguments,
                               device: gate?.device,
                               staleLeftover: gate?.staleLeftover,
                               configuration: configuration)
        leftovers = LeftoverReaper(stopTimeout: configuration.stopTimeout, killGrace: configuration.killGrace,
                                   commandName: Path.baseName(arguments[0]))
        quickExits = quickExitSettings.map { QuickExitReaper(settings: $0) }
        table = SupervisionTable(configuration: configuration)
        try epoll.add(signals.fd, .input, Epoll.Token(source: Source.signals.rawValue))
        try epoll.add(timer.fd, .input, Epoll.Token(source: Source.deadline.rawValue))
        let own: [any EventSource] = quickExits.map { [leftovers, $0] } ?? [leftovers]
        for source in own + (gate?.sources ?? []) + extra {
            let number = Self.firstAttached + UInt16(sources.count)
            sources.append(source)
            try source.attach(LoopHandle(loop: self, source: number))
        }
    }

    /// Supervises until the state machine says to exit; returns the exit code.
    public func run() -> Int32 {
        start()
        while exitCode == nil { turn() }
        return finish()
    }

    /// Supervision begins (the first probe or spawn).
    func start() {
        submit(.start, at: clock())
    }

    /// One turn of the loop: arms the timer for the earliest deadline, waits
    /// for readiness (at most `timeoutMilliseconds`; -1 is forever) and
    /// carries out what it leads to.
    func turn(timeoutMilliseconds: Int32 = -1) {
        do {
            try armTimer()
            try epoll.wait(timeoutMilliseconds: timeoutMilliseconds) { (event) throws(SystemError) in
                guard exitCode == nil else { return }
                try dispatch(event)
            }
        } catch {
            internalError(error)
        }
    }

    /// Supervision is over: what is left is ended, the hooks told.
    func finish() -> Int32 {
        leftovers.abandon()
        hooks.tearDown?(table)
        return exitCode ?? ExitCode.software
    }

    // MARK: Readiness → events

    private func dispatch(_ event: Epoll.Event) throws(SystemError) {
        switch Source(rawValue: event.token.source) {
        case .signals:
            while exitCode == nil, let delivery = try signals.next() {
                submit(.signal(delivery.signal), at: clock())
            }
        case .deadline:
            if try timer.acknowledge() > 0 {
                armedDeadline = nil
                deadlinesPassed(at: clock())
            }
        case .child:
            guard event.token.generation == childGeneration, child != nil else { return }
            try childBecameReadable()
        case nil:
            let index = Int(event.token.source) - Int(Self.firstAttached)
            guard index >= 0 && index < sources.count else { return }
            let registration = LoopHandle.Registration(slot: event.token.slot, generation: event.token.generation)
            if let followUp = try sources[index].ready(registration, event.readiness) { submit(followUp, at: clock()) }
        }
    }

    /// The pidfd is readable: the child has exited, unless the wakeup was
    /// spurious. Its group gets SIGTERM before the reap, while the zombie
    /// still holds the group id; the exit reaches the table once the group
    /// is empty (`LeftoverReaper`).
    private func childBecameReadable() throws(SystemError) {
        guard let running = child.take() else { return }
        running.signalGroup(SIGTERM)
        guard let status = try running.reap() else {
            // Spurious readiness: keep watching.
            child = consume running
            return
        }
        epoll.remove(running.fd)
        let pid = running.pid
        _ = consume running
        gate?.childExited()
        if let exit = leftovers.playerReaped(pid: pid, status: status, at: clock()) { submit(exit, at: clock()) }
    }

    // MARK: Events → actions

    /// Feeds one event and carries out what it asks; an action that completes
    /// at once (spawn, a probe that fails on open) feeds its outcome straight
    /// back. One action has at most one outcome.
    func submit(_ first: SupervisionEvent, at time: MonotonicInstant) {
        var next: SupervisionEvent? = first
        // A running player's exit passes the quick-exit rule, which may hold it.
        if let quickExits { next = quickExits.pass(first, phase: table.phase, at: time) }
        var now = time
        while let event = next, exitCode == nil {
            next = nil
            let before = table.phase
            let actions = table.handle(event, at: now)
            for action in actions {
                if let followUp = perform(action, at: now) {
                    precondition(next == nil, "two actions of one transition produced an event each")
                    next = followUp
                }
            }
            if table.phase != before { hooks.phaseChanged?(table) }
            if next != nil { now = clock() }
        }
    }

    private func perform(_ action: SupervisionAction, at now: MonotonicInstant) -> SupervisionEvent? {
        if action.isGateAction { return gate?.perform(action, at: now) }
        switch action {
        case .spawn:
            return spawn()
        case .armDeadline(let delay):
            // From the moment it is armed, as a timer runs: the actions before
            // it (a holder report's /proc scan) do not eat into the wait.
            tableDeadline = clock() + delay
        case .cancelDeadline:
            tableDeadline = nil
        case .signalChild(let signal):
            child?.signal(signal)
        case .signalGroup(let signal):
            child?.signalGroup(signal)
        case .killGroup:
            if child != nil { child?.signalGroup(SIGKILL) } else { leftovers.killNow(at: now) }
        case .log(let record):
            let level = renderer.level(of: record)
            guard logger.enabled(level) else { break }
            logger.log(level, renderer.message(record, firstFinding: gate?.firstFinding))
        case .notify(let notification):
            hooks.notify?(notification)
        case .exit(let code):
            exitCode = code
        case .startProbe, .abortProbe, .reportHolders, .warnHolders, .reapStalePlayers, .endDeviceWatch:
            break  // The gate's (above).
        }
        return nil
    }

    private func spawn() -> SupervisionEvent {
        do {
            let started = try ChildProcess.spawn(command, handlersBlocked: spawnHandlersBlocked)
            childGeneration &+= 1
            let pid = started.pid
            do {
                try epoll.add(started.fd, .input, Epoll.Token(source: Source.child.rawValue, generation: childGeneration))
            } catch {
                // Unwatchable child: end it rather than run it blind.
                started.signalGroup(SIGKILL)
                _ = try? started.waitForExit()
                return .spawnFailed(SpawnFailure(stage: .watch, errno: error.errno))
            }
            child = consume started
            gate?.childStarted(pid: pid)
            return .spawned(pid: pid)
        } catch {
            return .spawnFailed(error)
        }
    }

    /// A failure of the reactor's own machinery (not the child's): log it and
    /// end supervision the safe way — stop the child and exit 70 (EX_SOFTWARE).
    func internalError(_ error: SystemError) {
        logger.log(.error, "internal error: \(error); stopping")
        child?.signalGroup(SIGKILL)
        if let running = child.take() { _ = try? running.waitForExit() }
        exitCode = ExitCode.software
    }
}

import CEpoll
import Supervision
import CLibc

/// The reactor: one thread, one epoll. It turns kernel readiness into
/// `SupervisionEvent`s, feeds them to the pure `SupervisionTable`, and carries out
/// the actions it returns. Nothing here sleeps; while the child is healthy the
/// process blocks in epoll_wait with no timer armed but the watchdog's, which
/// exists only when the service manager asks for pings (WatchdogSec=).
public final class Daemon {
    /// The reactor's own sources. Attached sources (`EventSource`: the gate's
    /// parts) are numbered from `firstAttached` on, in the order given.
    enum Source: UInt16 {
        case signals = 1
        case deadline
        case child
        case watchdog
    }
    static let firstAttached: UInt16 = 16

    let epoll: Epoll
    let signals: SignalFD
    let deadline: TimerFD
    /// Periodic WATCHDOG=1 pings, only when the service manager asked for them.
    let watchdog: TimerFD?
    var table: SupervisionTable
    let logger: Logger
    let renderer: LogRenderer
    let command: PreparedCommand
    let hooks: DaemonHooks
    let gate: (any GateDriver)?

    /// The running child and the generation its epoll registration carries.
    var child: ChildProcess?
    var childGeneration: UInt32 = 0
    var exitCode: Int32?
    var childPID: Int32? { child?.pid }

    /// Sources attached through a `LoopHandle` (the gate's parts).
    private var sources: [any EventSource] = []

    public init(
        command: consuming PreparedCommand,
        configuration: SupervisionConfiguration,
        gate: (any GateDriver)?,
        sources extra: [any EventSource] = [],
        logger: Logger,
        hooks: DaemonHooks = DaemonHooks()
    ) throws(SystemError) {
        // SIGPIPE is ignored (not blocked): a write to a closed stderr must come
        // back as EPIPE, and a SIGPIPE we caused must never be forwarded.
        _ = cep_signal_ignore(SIGPIPE)
        signals = try SignalFD(Signals.forwarded)
        epoll = try Epoll()
        deadline = try TimerFD()
        if let interval = hooks.watchdogInterval {
            let timer = try TimerFD()
            try epoll.add(timer.fd, .input, Epoll.Token(source: Source.watchdog.rawValue))
            try timer.arm(after: interval, every: interval)
            watchdog = consume timer
        } else {
            watchdog = nil
        }
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
        table = SupervisionTable(configuration: configuration)
        try epoll.add(signals.fd, .input, Epoll.Token(source: Source.signals.rawValue))
        try epoll.add(deadline.fd, .input, Epoll.Token(source: Source.deadline.rawValue))
        for source in (gate?.sources ?? []) + extra {
            let number = Self.firstAttached + UInt16(sources.count)
            sources.append(source)
            try source.attach(LoopHandle(daemon: self, source: number))
        }
    }

    /// Supervises until the state machine says to exit; returns the exit code.
    public func run() -> Int32 {
        submit(.start)
        while exitCode == nil {
            do {
                try epoll.wait { (event) throws(SystemError) in
                    guard exitCode == nil else { return }
                    try dispatch(event)
                }
            } catch {
                internalError(error)
            }
        }
        hooks.tearDown?(table)
        return exitCode ?? ExitCode.software
    }

    // MARK: Readiness → events

    private func dispatch(_ event: Epoll.Event) throws(SystemError) {
        switch Source(rawValue: event.token.source) {
        case .signals:
            while exitCode == nil, let delivery = try signals.next() {
                submit(.signal(delivery.signal))
            }
        case .deadline:
            if try deadline.acknowledge() > 0 { submit(.deadline) }
        case .child:
            guard event.token.generation == childGeneration, child != nil else { return }
            try childBecameReadable()
        case .watchdog:
            if try watchdog?.acknowledge() ?? 0 > 0 { hooks.watchdogPing?() }
        case nil:
            let index = Int(event.token.source) - Int(Self.firstAttached)
            guard index >= 0 && index < sources.count else { return }
            let registration = LoopHandle.Registration(slot: event.token.slot, generation: event.token.generation)
            if let followUp = try sources[index].ready(registration, event.readiness) { submit(followUp) }
        }
    }

    /// The pidfd is readable: the child has exited, unless the wakeup was spurious.
    private func childBecameReadable() throws(SystemError) {
        guard let status = try childExitStatus() else { return }
        submit(.childExited(status))
    }

    /// Reaps the child; nil when it has not exited after all. Its leftovers in
    /// the process group are killed before the reap, while the group id is
    /// still reserved by the zombie, so a stale grandchild cannot keep holding
    /// the device.
    private func childExitStatus() throws(SystemError) -> TerminationStatus? {
        guard let running = child.take() else { return nil }
        running.signalGroup(SIGKILL)
        guard let status = try running.reap() else {
            // Spurious readiness: keep watching.
            child = consume running
            return nil
        }
        epoll.remove(running.fd)
        _ = consume running
        return status
    }

    // MARK: Events → actions

    /// Feeds one event and carries out what it asks; an action that completes
    /// at once (spawn, a probe that fails on open) feeds its outcome straight back.
    func submit(_ first: SupervisionEvent) {
        var next: SupervisionEvent? = first
        while let event = next, exitCode == nil {
            next = nil
            let before = table.phase
            let actions = table.handle(event, at: .now())
            for action in actions {
                if let followUp = perform(action) { next = followUp }
            }
            if table.phase != before { hooks.phaseChanged?(table) }
        }
    }

    private func perform(_ action: SupervisionAction) -> SupervisionEvent? {
        switch action {
        case .spawn:
            return spawn()
        case .armDeadline(let delay):
            do { try deadline.arm(after: delay) } catch { internalError(error) }
        case .cancelDeadline:
            do { try deadline.disarm() } catch { internalError(error) }
        case .signalChild(let signal):
            child?.signal(signal)
        case .killGroup:
            child?.signalGroup(SIGKILL)
        case .startProbe, .abortProbe, .reportHolders, .warnHolders, .reapStalePlayers:
            var followUp: SupervisionEvent?
            for source in sources {
                if let event = source.perform(action) { followUp = event }
            }
            return followUp
        case .log(let record):
            let level = renderer.level(of: record)
            guard logger.enabled(level) else { break }
            var message = renderer.message(record)
            // A hiccup's one line says what the first failed probe found.
            if case .deviceReady(_, _, warned: false) = record, let found = gate?.hiccupSummary { message += ": " + found }
            logger.log(level, message)
        case .notify(let notification):
            hooks.notify?(notification)
        case .exit(let code):
            exitCode = code
        }
        return nil
    }

    private func spawn() -> SupervisionEvent {
        do {
            let started = try ChildProcess.spawn(command, handlersBlocked: true)
            childGeneration &+= 1
            let pid = started.pid
            do {
                try epoll.add(started.fd, .input, Epoll.Token(source: Source.child.rawValue, generation: childGeneration))
            } catch {
                // Unwatchable child: end it rather than run it blind.
                started.signalGroup(SIGKILL)
                _ = try? started.waitForExit()
                return .spawnFailed(SpawnFailure(stage: .clone, errno: error.errno))
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

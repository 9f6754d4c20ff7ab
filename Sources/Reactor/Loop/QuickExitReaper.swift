import Presentation
import Supervision
import CLibc

/// Carries out `QuickExitLeftovers`: when the player keeps exiting quickly, a
/// leftover of itself that holds no device (an idle instance holding its
/// port) is looked for and ended, and the player's exit is held until it is
/// gone, so the next start does not meet it again.
///
/// The leftover is found, pinned and signalled as the gate's stale rule does
/// it (`StaleRuleInForce`, `StalePlayers`, `StaleReaper`'s pin and send): the
/// same executable, every `--stale-match` element (and an interpreter's
/// script), the same real uid, not monitord nor a process monitord started,
/// pinned by pidfd and checked again through the pin before any signal.
final class QuickExitReaper: EventSource {
    private var table: QuickExitLeftovers
    private let inForce: StaleRuleInForce
    private let restart: RestartPolicy
    private var targets: [StaleReaper.Target] = []
    private var generation: UInt32 = 0
    private var loop: LoopHandle?
    /// The exit held while leftovers are ended.
    private var held: TerminationStatus?
    /// The held exit is on its way back to the table: let it through.
    private var releasing = false
    private var announced = false

    init(settings: QuickExitSettings) {
        table = QuickExitLeftovers(threshold: settings.threshold, reset: settings.reset,
                                   stopTimeout: settings.stopTimeout, killGrace: settings.killGrace)
        inForce = StaleRuleInForce(commandBaseName: settings.commandBaseName, commandPath: settings.commandPath,
                                   identity: .arguments(settings.staleMatch), scriptCandidate: settings.scriptCandidate)
        restart = settings.restart
    }

    func attach(_ handle: LoopHandle) throws(SystemError) {
        loop = handle
    }

    /// An event on its way to the supervision table in `phase`. A running
    /// player's exit is counted, and may be held (nil) while a leftover is
    /// ended; everything else goes on untouched.
    func pass(_ event: SupervisionEvent, phase: SupervisionPhase, at now: MonotonicInstant) -> SupervisionEvent? {
        guard case .childExited(let status) = event else { return event }
        if releasing {
            releasing = false
            return event
        }
        // An exit after a stop request ends supervision: nothing to count.
        guard case .running(_, let since) = phase else { return event }
        let ends = status.isSuccess && restart == .onFailure
        guard case .search(let first) = table.exited(runTime: now - since, endsSupervision: ends) else { return event }
        switch table.signalled(search(at: now, first: first), at: now) {
        case .hold:
            held = status
            return nil
        default:
            return event
        }
    }

    func ready(_ registration: LoopHandle.Registration, _ readiness: Epoll.Readiness) throws(SystemError) -> SupervisionEvent? {
        guard registration.generation == generation,
              let index = targets.firstIndex(where: { $0.slot == registration.slot }) else { return nil }
        let target = targets.remove(at: index)  // Its pidfd closes when `target` goes.
        loop?.unwatch(target.process.fd)
        loop?.logger.log(.notice, "leftover pid \(target.pid) has exited; \(inForce.baseName) may start")
        return table.leftoverExited(remaining: targets.count) == .release ? release() : nil
    }

    var deadline: MonotonicInstant? { table.deadline }

    func deadlinePassed(at now: MonotonicInstant) -> SupervisionEvent? {
        switch table.deadlinePassed(at: now) {
        case .kill:
            for target in targets where StaleReaper.send(SIGKILL, to: target.process, loop?.logger) {
                loop?.logger.log(.warning, "leftover pid \(target.pid) ignored SIGTERM for \(table.stopTimeout.humanReadable): sent SIGKILL")
            }
            return nil
        case .giveUp:
            let pids = targets.map { "\($0.pid)" }.joined(separator: ", ")
            loop?.logger.log(.warning, "leftover pid \(pids) did not exit within \(table.killGrace.humanReadable) of SIGKILL (stuck in the kernel?); starting \(inForce.baseName) anyway")
            for target in targets { loop?.unwatch(target.process.fd) }
            targets.removeAll()  // Closes every target's pidfd.
            return release()
        default:
            return nil
        }
    }

    private func release() -> SupervisionEvent? {
        guard let status = held.take() else { return nil }
        releasing = true
        return .childExited(status)
    }

    /// Finds the leftovers, SIGTERMs each through its pin and watches it;
    /// returns how many were signalled.
    private func search(at now: MonotonicInstant, first: Bool) -> Int {
        guard let loop else { return 0 }
        let logger = loop.logger
        if !announced {
            announced = true
            logger.log(.info, "quick-exit rule: after \(table.threshold) quick exits in a row, a leftover is \(inForce.identity)")
        }
        let why = "\(inForce.baseName) exited \(table.streak) times in a row after runs shorter than \(table.reset.humanReadable)"
        // No child runs now; a process monitord started still has it as parent.
        let rule = inForce.rule(uid: getuid(), excluded: [getpid()])
        let candidates = StalePlayers.find(rule)
        if candidates.isEmpty {
            logger.log(first ? .info : .debug, "\(why): no leftover \(inForce.leftover) found")
            return 0
        }
        generation &+= 1
        for pid in candidates {
            // A `continue` below drops the pinned process, which closes its pidfd.
            guard let process = StaleReaper.pin(pid, logger) else { continue }
            // Pinned: from here the pidfd names this process or a dead one.
            guard StalePlayers.verify(pid: pid, rule: rule) else { continue }
            let commandLine = ProcEntries.commandLine(pid: pid, procRoot: "/proc") ?? []
            guard StaleReaper.send(SIGTERM, to: process, logger) else { continue }
            let slot = UInt16(truncatingIfNeeded: targets.count + 1)
            do {
                try loop.watch(process.fd, for: .input, LoopHandle.Registration(slot: slot, generation: generation))
            } catch {
                logger.log(.warning, "sent SIGTERM to leftover pid \(pid) but cannot watch for its exit: \(error)")
                continue
            }
            targets.append(StaleReaper.Target(process, slot: slot))
            logger.log(.notice, "ending leftover pid \(pid) (\(GateDiagnosis.shown(commandLine))): \(why), and it is a \(inForce.leftover) not started by monitord; sent SIGTERM, the next start waits for it")
        }
        return targets.count
    }
}

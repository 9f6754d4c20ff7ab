import CEpoll
import Supervision
#if canImport(Glibc)
import Glibc
#endif

/// Ends a stale player that holds the gate's device: the one place monitord
/// signals a process it did not start, so every step re-checks.
///
/// Strict match (StalePlayers): same executable name, the exact same `-o`
/// device, same real uid, not monitord or its child, not a zombie. The pid is
/// pinned with a pidfd and the match re-verified through /proc after that, so
/// a pid recycled between scan and signal is never hit. SIGTERM first, SIGKILL
/// after the stop timeout; at most one round per stop timeout.
final class StaleReaper: EventSource {
    private struct Target {
        let pid: Int32
        let pidfd: Int32
        let slot: UInt16
    }

    private let settings: GateSettings
    private let timer: TimerFD
    private var targets: [Target] = []
    private var generation: UInt32 = 0
    private var lastRound: MonotonicInstant?
    private var loop: LoopHandle?
    /// Slot of the SIGKILL deadline; a target's pidfd uses its index + 1.
    private static let deadlineSlot: UInt16 = 0

    init(settings: GateSettings) throws(SystemError) {
        self.settings = settings
        timer = try TimerFD()
    }

    func attach(_ handle: LoopHandle) throws(SystemError) {
        loop = handle
        try handle.watch(timer.fd, for: .input, LoopHandle.Registration(slot: Self.deadlineSlot))
    }

    func ready(_ registration: LoopHandle.Registration, _ readiness: Epoll.Readiness) throws(SystemError) -> SupervisionEvent? {
        if registration.slot == Self.deadlineSlot {
            try deadlinePassed()
        } else {
            exited(registration)
        }
        return nil
    }

    func perform(_ action: SupervisionAction) -> SupervisionEvent? {
        if action == .reapStalePlayers, let loop {
            reap(excluding: [getpid()] + (loop.childPID.map { [$0] } ?? []), loop: loop)
        }
        return nil
    }

    private var description: String { "\(settings.commandBaseName) -o \(settings.parameters.device)" }

    private func reap(excluding excluded: [Int32], loop: LoopHandle) {
        let now = MonotonicInstant.now()
        let logger = loop.logger
        if !targets.isEmpty { return }  // The previous round is still ending.
        if let lastRound, now - lastRound < settings.stopTimeout {
            logger.log(.debug, "not looking for a stale \(description): the last one was ended less than \(settings.stopTimeout.humanReadable) ago")
            return
        }
        let rule = StalePlayerRule(baseName: settings.commandBaseName, device: settings.parameters.device,
                                   uid: getuid(), excluded: Set(excluded))
        let candidates = StalePlayers.find(rule)
        if candidates.isEmpty {
            logger.log(.info, "no stale \(description) found (same name, device and user; not monitord's child)")
            return
        }
        generation &+= 1
        for pid in candidates {
            let pidfd = cep_pidfd_open(pid)
            guard pidfd >= 0 else { continue }  // Gone already.
            // Pinned: from here the pidfd names this process or a dead one, never
            // a successor. Re-check that the pinned pid is still the player.
            guard StalePlayers.verify(pid: pid, rule: rule) else {
                close(pidfd)
                continue
            }
            let commandLine = ProcEntries.commandLine(pid: pid, procRoot: "/proc") ?? []
            guard cep_pidfd_send_signal(pidfd, SIGTERM) == 0 else {
                close(pidfd)
                continue
            }
            let slot = UInt16(truncatingIfNeeded: targets.count + 1)
            do {
                try loop.watch(pidfd, for: .input, LoopHandle.Registration(slot: slot, generation: generation))
            } catch {
                close(pidfd)
                continue
            }
            targets.append(Target(pid: pid, pidfd: pidfd, slot: slot))
            logger.log(.warning, "ending stale player pid \(pid) (\(ALSAGate.shown(commandLine))): it plays to \(settings.parameters.device) and is not monitord's child; sent SIGTERM")
        }
        if !targets.isEmpty {
            lastRound = now
            do { try timer.arm(after: settings.stopTimeout) } catch { loop.fail(error) }
        }
    }

    private func exited(_ registration: LoopHandle.Registration) {
        guard registration.generation == generation,
              let index = targets.firstIndex(where: { $0.slot == registration.slot }) else { return }
        let target = targets.remove(at: index)
        loop?.unwatch(target.pidfd)
        close(target.pidfd)
        loop?.logger.log(.notice, "stale player pid \(target.pid) has exited; \(settings.parameters.device) should be free")
        if targets.isEmpty { try? timer.disarm() }
    }

    private func deadlinePassed() throws(SystemError) {
        guard try timer.acknowledge() > 0 else { return }
        for target in targets {
            if cep_pidfd_send_signal(target.pidfd, SIGKILL) == 0 {
                loop?.logger.log(.warning, "stale player pid \(target.pid) ignored SIGTERM for \(settings.stopTimeout.humanReadable): sent SIGKILL")
            }
            loop?.unwatch(target.pidfd)
            close(target.pidfd)
        }
        targets.removeAll()
    }
}

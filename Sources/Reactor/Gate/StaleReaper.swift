import Presentation
import Supervision
import CLibc

/// Ends a stale player that holds the gate's device: the one place monitord
/// signals a process it did not start, so every step re-checks.
///
/// Strict match (StalePlayers): the same executable, the identity in force
/// (the exact same `-o` device, or every `--stale-match` ARG and an
/// interpreter's script as whole argv elements: StaleRuleInForce), same real
/// uid, not monitord or its child, not a zombie. The pid is
/// pinned with a pidfd (PinnedProcess) and the match re-verified through /proc after that, so
/// a pid recycled between scan and signal is never hit. When to search and
/// when to escalate is `StaleEnding`'s (SIGTERM first, SIGKILL after the stop
/// timeout; at most one round per stop timeout), on the loop's one deadline.
final class StaleReaper: EventSource {
    /// A signalled player, until it exits or is killed; dropping the last
    /// reference closes its pidfd. A class because Swift 6.0.3 (Debian's
    /// compiler, used for the aarch64 build) cannot keep a `~Copyable`
    /// element in an Array. QuickExitReaper keeps its targets in it too.
    final class Target {
        let process: PinnedProcess
        let slot: UInt16
        var pid: Int32 { process.pid }

        init(_ process: consuming PinnedProcess, slot: UInt16) {
            self.process = process
            self.slot = slot
        }
    }

    private let settings: GateSettings
    private let inForce: StaleRuleInForce
    private var ending: StaleEnding
    private var targets: [Target] = []
    private var generation: UInt32 = 0
    private var loop: LoopHandle?

    init(settings: GateSettings) {
        self.settings = settings
        inForce = StaleRuleInForce(settings)
        ending = StaleEnding(stopTimeout: settings.stopTimeout)
    }

    func attach(_ handle: LoopHandle) throws(SystemError) {
        loop = handle
    }

    func ready(_ registration: LoopHandle.Registration, _ readiness: Epoll.Readiness) throws(SystemError) -> SupervisionEvent? {
        exited(registration)
        return nil
    }

    /// The table's `reapStalePlayers`.
    func reap(at now: MonotonicInstant) {
        guard let loop else { return }
        reap(excluding: [getpid()] + (loop.childPID.map { [$0] } ?? []), at: now, loop: loop)
    }

    var deadline: MonotonicInstant? { ending.deadline }

    func deadlinePassed(at now: MonotonicInstant) -> SupervisionEvent? {
        guard ending.deadlinePassed(at: now) else { return nil }
        for target in targets {
            if Self.send(SIGKILL, to: target.process, loop?.logger) {
                loop?.logger.log(.warning, "stale player pid \(target.pid) ignored SIGTERM for \(settings.stopTimeout.humanReadable): sent SIGKILL")
            }
            loop?.unwatch(target.process.fd)
        }
        targets.removeAll()  // Closes every target's pidfd.
        return nil
    }

    private var description: String { inForce.leftover }

    /// How a leftover is named, or nil when none is ever ended.
    var leftover: String? { inForce.endsLeftovers ? inForce.leftover : nil }

    private func reap(excluding excluded: [Int32], at now: MonotonicInstant, loop: LoopHandle) {
        let logger = loop.logger
        let search = ending.searchRequested(at: now)
        switch search {
        case .search(let announce), .stillEnding(let announce), .tooSoon(_, let announce):
            if announce { logger.log(.info, inForce.announcement) }
        }
        guard inForce.endsLeftovers else { return }
        switch search {
        case .search:
            break
        case .stillEnding:
            return
        case .tooSoon:
            logger.log(.debug, "not looking for a stale \(description): the last one was ended less than \(settings.stopTimeout.humanReadable) ago")
            return
        }
        let rule = inForce.rule(uid: getuid(), excluded: Set(excluded))
        let candidates = StalePlayers.find(rule)
        if candidates.isEmpty {
            logger.log(.info, "no stale \(description) found (same \(inForce.device == nil ? "executable, arguments" : "name, device") and user; not monitord's child)")
            return
        }
        generation &+= 1
        for pid in candidates {
            // A `continue` below drops the pinned process, which closes its pidfd.
            guard let process = Self.pin(pid, logger) else { continue }  // Gone already (or logged).
            // Pinned: from here the pidfd names this process or a dead one, never
            // a successor. Re-check that the pinned pid is still the player.
            guard StalePlayers.verify(pid: pid, rule: rule) else { continue }
            let commandLine = ProcEntries.commandLine(pid: pid, procRoot: "/proc") ?? []
            guard Self.send(SIGTERM, to: process, logger) else { continue }
            let slot = UInt16(truncatingIfNeeded: targets.count + 1)
            do {
                try loop.watch(process.fd, for: .input, LoopHandle.Registration(slot: slot, generation: generation))
            } catch {
                logger.log(.warning, "sent SIGTERM to stale player pid \(pid) but cannot watch for its exit: \(error)")
                continue
            }
            targets.append(Target(process, slot: slot))
            logger.log(.warning, "ending stale player pid \(pid) (\(GateDiagnosis.shown(commandLine))): \(inTheWay) and is not monitord's child; sent SIGTERM")
        }
        ending.signalled(targets.count, at: now)
    }

    /// Why a leftover is taken to be in the gate's way.
    private var inTheWay: String {
        if inForce.device != nil { return "it plays to \(settings.parameters.device)" }
        return "it is a \(description) while \(settings.parameters.device) cannot be opened"
    }

    private func exited(_ registration: LoopHandle.Registration) {
        guard registration.generation == generation,
              let index = targets.firstIndex(where: { $0.slot == registration.slot }) else { return }
        let target = targets.remove(at: index)  // Its pidfd closes when `target` goes.
        loop?.unwatch(target.process.fd)
        loop?.logger.log(.notice, "stale player pid \(target.pid) has exited; \(settings.parameters.device) should be free")
        _ = ending.targetExited()
    }

    /// Pins `pid`; nil when it is gone (ESRCH, silently) or cannot be pinned
    /// (logged: nothing is signalled without a pin).
    static func pin(_ pid: Int32, _ logger: Logger) -> PinnedProcess? {
        do {
            return try PinnedProcess.pin(pid)
        } catch {
            logger.log(.warning, "cannot pin stale player pid \(pid) to end it: \(error)")
            return nil
        }
    }

    /// True when `signal` was sent; false when the process has exited
    /// (silently) or the signal failed (logged).
    static func send(_ signal: Int32, to process: borrowing PinnedProcess, _ logger: Logger?) -> Bool {
        do {
            return try process.signal(signal)
        } catch {
            logger?.log(.warning, "cannot send \(Signals.name(signal)) to stale player pid \(process.pid): \(error)")
            return false
        }
    }

    /// Ends leftovers the running watch found holding the device for its
    /// window (`RunningDeviceWatch`): the same rule, pin, re-check and
    /// SIGTERM-then-SIGKILL round as a search before a start, but only the
    /// processes given. `excluded`: monitord, the player and its descendants.
    /// Returns nil when done, or how long to wait before asking again (a
    /// round is under way, or began less than a stop timeout ago).
    func end(holders pids: [Int32], excluding excluded: Set<Int32>, for held: Duration, at now: MonotonicInstant) -> Duration? {
        guard let loop, inForce.endsLeftovers else { return nil }
        let logger = loop.logger
        switch ending.searchRequested(at: now) {
        case .search(let announce):
            if announce { logger.log(.info, inForce.announcement) }
        case .stillEnding(let announce):
            if announce { logger.log(.info, inForce.announcement) }
            return settings.stopTimeout
        case .tooSoon(let since, let announce):
            if announce { logger.log(.info, inForce.announcement) }
            return settings.stopTimeout - since
        }
        let rule = inForce.rule(uid: getuid(), excluded: excluded)
        generation &+= 1
        for pid in pids where !excluded.contains(pid) {
            guard let process = Self.pin(pid, logger) else { continue }
            // Pinned: a pid reused since the scan is caught here, a player's
            // descendant at any depth too.
            guard StalePlayers.verify(pid: pid, rule: rule), !ProcessAncestry.descends(pid, from: excluded) else { continue }
            let commandLine = ProcEntries.commandLine(pid: pid, procRoot: "/proc") ?? []
            guard Self.send(SIGTERM, to: process, logger) else { continue }
            let slot = UInt16(truncatingIfNeeded: targets.count + 1)
            do {
                try loop.watch(process.fd, for: .input, LoopHandle.Registration(slot: slot, generation: generation))
            } catch {
                logger.log(.warning, "sent SIGTERM to stale player pid \(pid) but cannot watch for its exit: \(error)")
                continue
            }
            targets.append(Target(process, slot: slot))
            logger.log(.warning, "ending stale player pid \(pid) (\(GateDiagnosis.shown(commandLine))): it has held \(settings.parameters.device) for \(held.humanReadable) while \(settings.commandBaseName) runs and is not monitord's child; sent SIGTERM")
        }
        ending.signalled(targets.count, at: now)
        return nil
    }
}

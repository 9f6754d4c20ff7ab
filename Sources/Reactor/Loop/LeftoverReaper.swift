import CKernelShim
import Presentation
import Supervision
import CLibc

/// Carries out `GroupLeftovers`: the processes the player left in its group
/// when it exited are pinned with pidfds, watched, and SIGKILLed when the
/// table says so; the player's exit is handed on once the group is empty.
///
/// The group got SIGTERM while the player's zombie held the group id. After
/// the reap, a member that is still alive holds the id itself (the kernel
/// frees a pid number only when no process uses it as a pid, group or
/// session id), so `kill(-pgid, 0)` succeeding means members remain. Each is
/// pinned and its membership checked again through the pin: later signals go
/// through pidfds, never to a group id that might have been given out again.
final class LeftoverReaper: EventSource {
    /// A pinned member. A class because Swift 6.0.3 (Debian's compiler, used
    /// for the aarch64 build) cannot keep a `~Copyable` element in an Array.
    private final class Member {
        let process: PinnedProcess
        let slot: UInt16

        init(_ process: consuming PinnedProcess, slot: UInt16) {
            self.process = process
            self.slot = slot
        }
    }

    private var table: GroupLeftovers
    private let commandName: String
    private var loop: LoopHandle?
    private var members: [Member] = []
    private var generation: UInt32 = 0
    private var nextSlot: UInt16 = 0
    /// The exited player: its group id and exit status. Its exit reaches the
    /// table when the group is empty, so a run time counts the wait too.
    private var player: (pid: Int32, status: TerminationStatus)?

    init(stopTimeout: Duration, killGrace: Duration, commandName: String) {
        table = GroupLeftovers(stopTimeout: stopTimeout, killGrace: killGrace)
        self.commandName = commandName
    }

    func attach(_ handle: LoopHandle) throws(SystemError) {
        loop = handle
    }

    /// The player `pid` was reaped after its group got SIGTERM. Returns its
    /// exit (to hand to the supervision table) when the group is empty.
    func playerReaped(pid: Int32, status: TerminationStatus, at now: MonotonicInstant) -> SupervisionEvent? {
        let remain = ksh_kill_group(pid, 0) == 0 && pinMembers(of: pid, signal: nil) > 0
        player = (pid, status)
        switch table.playerExited(membersRemain: remain, at: now) {
        case .reportExit:
            return report()
        case .watch:
            let pids = members.map { "\($0.process.pid)" }.joined(separator: ", ")
            loop?.logger.log(.notice, "\(commandName) (pid \(pid)) left \(members.count == 1 ? "a process" : "processes") in its group (pid \(pids)): sent SIGTERM, SIGKILL after \(table.stopTimeout.humanReadable); the next start waits for them")
            return nil
        case .none, .kill, .giveUp:
            return nil
        }
    }

    func ready(_ registration: LoopHandle.Registration, _ readiness: Epoll.Readiness) throws(SystemError) -> SupervisionEvent? {
        guard registration.generation == generation,
              let index = members.firstIndex(where: { $0.slot == registration.slot }) else { return nil }
        let member = members.remove(at: index)  // Its pidfd closes when `member` goes.
        loop?.unwatch(member.process.fd)
        guard members.isEmpty, let player else { return nil }
        // Members forked after the scan are looked for before the group counts as empty.
        if ksh_kill_group(player.pid, 0) == 0 && pinMembers(of: player.pid, signal: table.phase.isKilling ? SIGKILL : SIGTERM) > 0 {
            return nil
        }
        return table.emptied() == .reportExit ? report() : nil
    }

    var deadline: MonotonicInstant? { table.deadline }

    func deadlinePassed(at now: MonotonicInstant) -> SupervisionEvent? {
        carryOut(table.deadlinePassed(at: now))
    }

    /// The supervision table asked for SIGKILL to the player's group and the
    /// player is gone: its leftovers get it.
    func killNow(at now: MonotonicInstant) {
        _ = carryOut(table.killRequested(at: now))
    }

    /// monitord exits: nothing it leaves behind may keep the device.
    func abandon() {
        for member in members {
            _ = try? member.process.signal(SIGKILL)
            loop?.unwatch(member.process.fd)
        }
        members.removeAll()
    }

    private func carryOut(_ action: GroupLeftovers.Action) -> SupervisionEvent? {
        switch action {
        case .kill:
            let pids = members.map { "\($0.process.pid)" }.joined(separator: ", ")
            for member in members { _ = try? member.process.signal(SIGKILL) }
            if let player { _ = pinMembers(of: player.pid, signal: SIGKILL) }
            loop?.logger.log(.warning, "what \(commandName) left in its group (pid \(pids)) ignored SIGTERM for \(table.stopTimeout.humanReadable): sent SIGKILL")
            return nil
        case .giveUp:
            loop?.logger.log(.error, "what \(commandName) left in its group did not exit after SIGKILL (stuck in the kernel?); going on without it")
            abandon()
            return report()
        case .reportExit:
            return report()
        case .none, .watch:
            return nil
        }
    }

    private func report() -> SupervisionEvent? {
        guard let exited = player.take() else { return nil }
        return .childExited(exited.status)
    }

    /// Pins the live members of group `pgid` not pinned yet, checks each is
    /// still a member through its pin, signals it if asked (nil: the group
    /// was signalled already) and watches it. Returns how many are watched.
    private func pinMembers(of pgid: Int32, signal: Int32?) -> Int {
        guard let loop else { return 0 }
        if members.isEmpty { generation &+= 1 }
        for pid in ProcessGroups.liveMembers(of: pgid) where !members.contains(where: { $0.process.pid == pid }) {
            guard let process = Self.pin(pid) else { continue }  // Gone, or not ours to pin.
            // Pinned: from here the pidfd names this process or a dead one.
            guard ProcessGroups.isLiveMember(pid, of: pgid) else { continue }
            if let signal { _ = try? process.signal(signal) }
            nextSlot &+= 1
            do {
                try loop.watch(process.fd, for: .input, LoopHandle.Registration(slot: nextSlot, generation: generation))
            } catch {
                // Unwatchable: ended at once rather than waited for blind.
                _ = try? process.signal(SIGKILL)
                continue
            }
            members.append(Member(process, slot: nextSlot))
        }
        return members.count
    }

    private static func pin(_ pid: Int32) -> PinnedProcess? {
        do { return try PinnedProcess.pin(pid) } catch { return nil }
    }
}

private extension GroupLeftovers.Phase {
    var isKilling: Bool {
        if case .killing = self { return true }
        return false
    }
}

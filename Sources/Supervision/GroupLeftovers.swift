/// What happens to the processes the player leaves in its process group when
/// it exits (a pipeline's other stages, a helper it forked): a pure value,
/// handed the time of each event.
///
/// The group gets SIGTERM as soon as the player has exited, while its zombie
/// still holds the group id (so the id cannot name another group yet). If
/// members remain, the next player does not start until they are gone: they
/// may still hold the device. After the stop timeout they get SIGKILL, and
/// after the kill grace monitord goes on without them (stuck in the kernel).
public struct GroupLeftovers: Equatable, Sendable {
    public enum Phase: Equatable, Sendable {
        /// No leftovers are being waited for.
        case idle
        /// Leftovers were sent SIGTERM; SIGKILL at the instant given.
        case terminating(killAt: MonotonicInstant)
        /// Leftovers were sent SIGKILL; given up on at the instant given.
        case killing(giveUpAt: MonotonicInstant)
    }

    /// What the reactor does next.
    public enum Action: Equatable, Sendable {
        /// Nothing (an event that cannot matter in this phase).
        case none
        /// The group is empty: hand the player's exit to the supervision table.
        case reportExit
        /// Members remain after SIGTERM: watch them (they were just signalled).
        case watch
        /// The stop timeout passed: SIGKILL every member still there.
        case kill
        /// SIGKILL did not end them within the kill grace: log it, report the exit.
        case giveUp
    }

    public let stopTimeout: Duration
    public let killGrace: Duration
    public private(set) var phase: Phase = .idle

    public init(stopTimeout: Duration, killGrace: Duration) {
        self.stopTimeout = stopTimeout
        self.killGrace = killGrace
    }

    /// The player was reaped after its group got SIGTERM; `membersRemain`
    /// says whether anyone is left in the group.
    public mutating func playerExited(membersRemain: Bool, at now: MonotonicInstant) -> Action {
        guard phase == .idle else { return .none }  // Unreachable: no player starts while leftovers live.
        guard membersRemain else { return .reportExit }
        phase = .terminating(killAt: now + stopTimeout)
        return .watch
    }

    /// The last member exited.
    public mutating func emptied() -> Action {
        guard phase != .idle else { return .none }
        phase = .idle
        return .reportExit
    }

    /// SIGKILL now, before the stop timeout (a stop of monitord's own ran
    /// out while the player had exited and its leftovers had not).
    public mutating func killRequested(at now: MonotonicInstant) -> Action {
        guard case .terminating = phase else { return .none }
        phase = .killing(giveUpAt: now + killGrace)
        return .kill
    }

    /// The deadline of the loop's one timer that belongs to this table.
    public var deadline: MonotonicInstant? {
        switch phase {
        case .idle: return nil
        case .terminating(let killAt): return killAt
        case .killing(let giveUpAt): return giveUpAt
        }
    }

    public mutating func deadlinePassed(at now: MonotonicInstant) -> Action {
        switch phase {
        case .idle:
            return .none
        case .terminating(let killAt):
            guard now >= killAt else { return .none }
            phase = .killing(giveUpAt: now + killGrace)
            return .kill
        case .killing(let giveUpAt):
            guard now >= giveUpAt else { return .none }
            phase = .idle
            return .giveUp
        }
    }
}

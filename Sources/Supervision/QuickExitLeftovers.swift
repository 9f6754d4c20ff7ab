/// When a player that keeps exiting quickly is taken to be blocked by a
/// leftover of itself that holds no device (an idle instance holding the
/// player's port), and how that leftover is ended: a pure value, handed the
/// time of each event.
///
/// Each exit comes with the run it ended. A run shorter than the backoff
/// reset is a quick exit; `threshold` quick exits in a row ask for a search.
/// What the search signalled gets SIGTERM, then SIGKILL after the stop
/// timeout, and the kill grace after that the ending gives up. Until the
/// leftovers are gone (or given up on) the exit is held: the next start must
/// not race the leftover for its port. A healthy run, or an ending, starts
/// the count again.
public struct QuickExitLeftovers: Equatable, Sendable {
    public enum Phase: Equatable, Sendable {
        /// Counting quick exits; nothing is being ended.
        case counting
        /// Leftovers were sent SIGTERM; SIGKILL at the instant given.
        case terminating(killAt: MonotonicInstant)
        /// Leftovers were sent SIGKILL; given up on at the instant given.
        case killing(giveUpAt: MonotonicInstant)
    }

    /// What the reactor does next.
    public enum Action: Equatable, Sendable {
        /// Nothing (an event that cannot matter in this phase).
        case none
        /// Hand the exit to the supervision table now.
        case passOn
        /// Look for a leftover with the player's identity and SIGTERM what is
        /// found. `first`: the first search of this run of quick exits, whose
        /// "none found" is worth an info line (later ones are debug lines).
        case search(first: Bool)
        /// Leftovers were signalled: hold the exit until they are gone.
        case hold
        /// The last leftover exited: hand the held exit on.
        case release
        /// The stop timeout passed: SIGKILL the leftovers still there.
        case kill
        /// SIGKILL did not end them within the kill grace: log it, hand the exit on.
        case giveUp
    }

    /// Quick exits in a row before a search (`--stale-after-exits`).
    public let threshold: Int
    /// A run this long is healthy (the backoff reset).
    public let reset: Duration
    public let stopTimeout: Duration
    public let killGrace: Duration
    public private(set) var phase: Phase = .counting
    /// Quick exits in a row since the last healthy run or ending.
    public private(set) var streak = 0

    public init(threshold: Int, reset: Duration, stopTimeout: Duration, killGrace: Duration) {
        self.threshold = max(threshold, 1)
        self.reset = reset
        self.stopTimeout = stopTimeout
        self.killGrace = killGrace
    }

    /// The player exited after running `runTime`. An exit that ends
    /// supervision (exit 0 under `--restart on-failure`) is no sign of a
    /// leftover: no start follows it.
    public mutating func exited(runTime: Duration, endsSupervision: Bool = false) -> Action {
        guard phase == .counting else { return .passOn }  // Unreachable: no player starts while an exit is held.
        guard !endsSupervision else { return .passOn }
        guard runTime < reset else {
            streak = 0
            return .passOn
        }
        streak += 1
        return streak >= threshold ? .search(first: streak == threshold) : .passOn
    }

    /// The search sent SIGTERM to `count` leftovers. None: the exit goes on
    /// and the streak stands, so the next quick exit searches again.
    public mutating func signalled(_ count: Int, at now: MonotonicInstant) -> Action {
        guard phase == .counting else { return .none }
        guard count > 0 else { return .passOn }
        phase = .terminating(killAt: now + stopTimeout)
        return .hold
    }

    /// The last leftover of the round exited (`remaining` is zero) or one of
    /// several did.
    public mutating func leftoverExited(remaining: Int) -> Action {
        guard phase != .counting, remaining == 0 else { return .none }
        phase = .counting
        streak = 0
        return .release
    }

    /// The deadline of the loop's one timer that belongs to this table.
    public var deadline: MonotonicInstant? {
        switch phase {
        case .counting: return nil
        case .terminating(let killAt): return killAt
        case .killing(let giveUpAt): return giveUpAt
        }
    }

    public mutating func deadlinePassed(at now: MonotonicInstant) -> Action {
        switch phase {
        case .counting:
            return .none
        case .terminating(let killAt):
            guard now >= killAt else { return .none }
            phase = .killing(giveUpAt: now + killGrace)
            return .kill
        case .killing(let giveUpAt):
            guard now >= giveUpAt else { return .none }
            phase = .counting
            streak = 0
            return .giveUp
        }
    }
}

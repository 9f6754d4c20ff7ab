/// When the gate may look for a stale player, and how one that was sent
/// SIGTERM is ended: a pure value, handed the time of each event.
///
/// Ending a process monitord did not start is the riskiest thing it does, so
/// it happens in rounds: a search SIGTERMs what it finds, the round lasts
/// until every target exited or the stop timeout passed (then SIGKILL), and
/// no new round starts within one stop timeout of the last one's start.
public struct StaleEnding: Equatable, Sendable {
    public let stopTimeout: Duration
    /// Targets signalled in the current round that have not exited.
    public private(set) var pending = 0
    /// When the current round sends SIGKILL to what is left.
    public private(set) var killAt: MonotonicInstant?
    private var lastRound: MonotonicInstant?
    /// The rule in force is announced once, at the first search.
    private var announced = false

    public init(stopTimeout: Duration) {
        self.stopTimeout = stopTimeout
    }

    /// What a search request comes to.
    public enum Search: Equatable, Sendable {
        /// Scan /proc and SIGTERM the matches (`announce`: log the rule first).
        case search(announce: Bool)
        /// The previous round is still ending its targets.
        case stillEnding(announce: Bool)
        /// A round began less than a stop timeout ago (`since` ago).
        case tooSoon(since: Duration, announce: Bool)
    }

    public mutating func searchRequested(at now: MonotonicInstant) -> Search {
        let announce = !announced
        announced = true
        if pending > 0 { return .stillEnding(announce: announce) }
        if let lastRound, now - lastRound < stopTimeout { return .tooSoon(since: now - lastRound, announce: announce) }
        return .search(announce: announce)
    }

    /// The search sent SIGTERM to `count` targets (zero: nothing found).
    public mutating func signalled(_ count: Int, at now: MonotonicInstant) {
        guard count > 0 else { return }
        pending = count
        lastRound = now
        killAt = now + stopTimeout
    }

    /// One target exited; true when it was the last of the round.
    public mutating func targetExited() -> Bool {
        guard pending > 0 else { return false }
        pending -= 1
        if pending == 0 { killAt = nil }
        return pending == 0
    }

    /// The deadline of the loop's one timer that belongs to this table.
    public var deadline: MonotonicInstant? { killAt }

    /// True when what is left of the round gets SIGKILL now (the round ends).
    public mutating func deadlinePassed(at now: MonotonicInstant) -> Bool {
        guard let killAt, now >= killAt else { return false }
        self.killAt = nil
        pending = 0
        return true
    }
}

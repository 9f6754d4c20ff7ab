/// When the next WATCHDOG=1 ping is due: every `interval` (half the service
/// manager's WatchdogSec=), the only periodic wakeup monitord has, and only
/// when asked. A pure value on the loop's one deadline.
public struct WatchdogSchedule: Equatable, Sendable {
    public let interval: Duration
    public private(set) var deadline: MonotonicInstant

    public init(interval: Duration, startingAt now: MonotonicInstant) {
        self.interval = max(interval, .milliseconds(1))
        deadline = now + self.interval
    }

    /// True when a ping is due now. The next one is one interval after the
    /// one due; a machine that slept through several pings sends one, not a
    /// burst, and the schedule starts again from now.
    public mutating func deadlinePassed(at now: MonotonicInstant) -> Bool {
        guard now >= deadline else { return false }
        deadline = deadline + interval
        if deadline <= now { deadline = now + interval }
        return true
    }
}

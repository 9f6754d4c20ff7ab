/// The ALSA readiness gate's timing, as the table sees it (the gate's I/O
/// half is the reactor's `GateSettings`).
public struct GateTiming: Equatable, Sendable {
    /// How much silence the probe writes (the device must also have played
    /// at least two periods of it).
    public var probeDuration: Duration
    /// A probe that has not finished by then failed (the device never drained).
    public var probeDeadline: Duration
    /// The first wait after a failed probe.
    public var probeRetry: Duration
    /// The longest wait between failed probes: waits grow from `probeRetry`
    /// with the time already waited (a quarter of it) up to this.
    public var probeInterval: Duration
    /// Consecutive failed probes before looking for a stale player (and every
    /// this many after).
    public var staleAfter: Int
    /// Reminders while waiting, measured from the first failure; the last
    /// entry's spacing repeats.
    public var reminders: [Duration]
    /// A device ready again within this of the first failed probe was a
    /// hiccup (a player's dmix state met once, a player still closing): one
    /// info line. Still unavailable after it: the warning and the full holder
    /// report. Zero warns at the first failed probe.
    public var holderGrace: Duration

    public static let defaultProbeDuration: Duration = .milliseconds(50)
    public static let defaultProbeRetry: Duration = .milliseconds(50)
    public static let defaultProbeInterval: Duration = .seconds(4)
    public static let defaultStaleAfter = 20
    /// Squeezelite's leftover dmix state costs one probe (~150 ms on a
    /// Pi-class guest); a player that takes a second to close is still a hiccup.
    public static let defaultHolderGrace: Duration = .seconds(1)

    public init(
        probeDuration: Duration = GateTiming.defaultProbeDuration,
        probeDeadline: Duration? = nil,
        probeRetry: Duration = GateTiming.defaultProbeRetry,
        probeInterval: Duration = GateTiming.defaultProbeInterval,
        staleAfter: Int = GateTiming.defaultStaleAfter,
        reminders: [Duration] = [.seconds(60), .seconds(300), .seconds(900)],
        holderGrace: Duration = GateTiming.defaultHolderGrace
    ) {
        self.probeDuration = probeDuration
        // Playing N of silence into a buffer of at most N takes about N; twice
        // that plus a second is generous for a loaded Pi, and still bounded.
        self.probeDeadline = probeDeadline ?? (probeDuration * 2 + .seconds(1))
        self.probeInterval = probeInterval
        self.probeRetry = min(probeRetry, probeInterval)
        self.staleAfter = max(staleAfter, 1)
        self.reminders = reminders.isEmpty ? [.seconds(900)] : reminders
        self.holderGrace = max(holderGrace, .zero)
    }

    /// The least time from one probe to the next when the device seems to
    /// have been released (a node closed): at most 50 ms, so that even with
    /// long timed waits a release is acted on at once, yet a device opened
    /// and closed all the time cannot make the gate spin.
    public var releaseGap: Duration { min(probeRetry, .milliseconds(50)) }

    /// The wait before the next probe when the device has been unavailable
    /// for `waited`: `probeRetry` at first, then a quarter of the time waited
    /// so far (so a device that comes back adds at most a quarter to the
    /// wait), never more than `probeInterval`.
    public func retryDelay(waited: Duration) -> Duration {
        let proportional = Duration.nanoseconds(max(waited.saturatingNanoseconds, 0) / 4)
        return min(max(proportional, probeRetry), probeInterval)
    }

    /// The instant of the n-th reminder (0-based) after a first failure at `start`.
    func reminder(_ index: Int, after start: MonotonicInstant) -> MonotonicInstant {
        if index < reminders.count { return start + reminders[index] }
        let last = reminders[reminders.count - 1]
        let spacing = reminders.count > 1 ? last - reminders[reminders.count - 2] : last
        return start + last + spacing * (index - reminders.count + 1)
    }
}

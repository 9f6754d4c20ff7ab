/// The gate's schedule while its device is unavailable: a pure value beside
/// the supervision table, which asks it what a failed probe, a release or a
/// ready device comes to. It keeps the wait's state (failed probes, since
/// when, reminders given, the next stale search, follow-ups of a release) and
/// decides the grace, the reminders, the stale searches and the next delay.
public struct GateSchedule: Equatable, Sendable {
    public let timing: GateTiming
    /// Consecutive failed probes, since when, and the last reason.
    public private(set) var failedProbes = 0
    public private(set) var lastProbeFailure: ProbeFailure?
    private var firstFailureAt: MonotonicInstant?
    private var remindersGiven = 0
    /// The holder grace ended with the device still unavailable: warned.
    public private(set) var warned = false
    /// The failed-probe count at which the next stale-player search happens.
    private var nextStaleSearch = 0
    /// When the last probe began, and when the next one is due while waiting.
    private var lastProbeAt: MonotonicInstant?
    private var nextProbeAt: MonotonicInstant?
    /// A release was seen and the next probe answers it.
    private var releaseSeen = false
    /// Failed probes since one that answered a release (nil: none since).
    /// The kernel reports a node closed before its driver has let go of the
    /// device, so a probe right after a release can still find it busy:
    /// those are retried at the retry, doubling, before the grown wait resumes.
    private var failuresSinceRelease: Int?

    public init(timing: GateTiming) {
        self.timing = timing
    }

    /// A probe begins now.
    public mutating func probeBegins(at now: MonotonicInstant) {
        lastProbeAt = now
        nextProbeAt = nil
        if releaseSeen {
            releaseSeen = false
            failuresSinceRelease = 0
        }
    }

    /// What a release seen while waiting comes to.
    public enum Release: Equatable, Sendable {
        /// Probe at once.
        case probeNow
        /// The next probe comes sooner anyway.
        case keepWaiting
        /// Probe after this (the release gap after the last probe began).
        case probeAfter(Duration)
    }

    /// A device node was released: probe at once, but never sooner than the
    /// release gap after the last probe began (a device that is opened and
    /// closed all the time must not make the gate spin).
    public mutating func released(at now: MonotonicInstant) -> Release {
        let earliest = (lastProbeAt ?? now) + timing.releaseGap
        releaseSeen = true
        if now >= earliest { return .probeNow }
        if let due = nextProbeAt, due <= earliest { return .keepWaiting }
        nextProbeAt = earliest
        return .probeAfter(earliest - now)
    }

    /// The device is usable: the line that ends a wait (nil when there was
    /// none), and the schedule starts afresh.
    public mutating func succeeded(at now: MonotonicInstant) -> LogRecord? {
        defer { self = GateSchedule(timing: timing) }
        guard failedProbes > 0, let first = firstFailureAt else { return nil }
        return .deviceReady(after: now - first, probes: failedProbes + 1, warned: warned)
    }

    /// A probe failed: the lines, holder reports and stale search it calls
    /// for go into `actions`; returns the wait before the next probe.
    public mutating func failed(_ failure: ProbeFailure, at now: MonotonicInstant,
                                _ actions: inout SupervisionActions) -> Duration {
        failedProbes += 1
        lastProbeFailure = failure
        if failedProbes == 1 {
            firstFailureAt = now
            remindersGiven = 0
            warned = false
            nextStaleSearch = timing.staleAfter
            actions.append(.log(.deviceUnavailable(failure)))
            // The first failed probe reports (its levels are the
            // diagnosis's rule). With no grace the warning below reports at
            // once instead.
            if timing.holderGrace > .zero { actions.append(.reportHolders) }
        }
        let first = firstFailureAt ?? now
        remind(failure, at: now, first: first, &actions)
        if failedProbes == nextStaleSearch {
            // A search scans all of /proc (milliseconds on a Pi). When the
            // holder is not a stale player, searching every few probes only
            // burns CPU: the gap doubles, up to 32 × stale-after probes.
            nextStaleSearch += min(failedProbes, timing.staleAfter * 32)
            actions.append(.log(.staleSearch(failedProbes: failedProbes)))
            actions.append(.reapStalePlayers)
        }
        let delay = nextDelay(at: now, first: first)
        nextProbeAt = now + delay
        return delay
    }

    /// The warning when the grace ends, then reminders on their schedule.
    private mutating func remind(_ failure: ProbeFailure, at now: MonotonicInstant, first: MonotonicInstant,
                                 _ actions: inout SupervisionActions) {
        if !warned && now - first >= timing.holderGrace {
            warned = true
            actions.append(.log(.deviceUnavailableAfterGrace(failure, probes: failedProbes, waited: now - first)))
            actions.append(.warnHolders)
            // A grace longer than the first reminders: they are not due again.
            while now >= timing.reminder(remindersGiven, after: first) { remindersGiven += 1 }
        } else if warned && failedProbes > 1 && now >= timing.reminder(remindersGiven, after: first) {
            // Catch up silently if the machine slept through several reminders.
            while now >= timing.reminder(remindersGiven, after: first) { remindersGiven += 1 }
            actions.append(.log(.deviceStillUnavailable(failure, probes: failedProbes, waited: now - first)))
        }
    }

    /// The grown wait, shortened after a release and to the grace's end.
    private mutating func nextDelay(at now: MonotonicInstant, first: MonotonicInstant) -> Duration {
        var delay = timing.retryDelay(waited: now - first)
        if let failures = failuresSinceRelease {
            var followUp = timing.probeRetry
            for _ in 0..<min(failures, 32) { followUp = followUp + followUp }
            if followUp < delay {
                delay = followUp
                failuresSinceRelease = failures + 1
            } else {
                failuresSinceRelease = nil
            }
        }
        // "Still unavailable after the grace" is a probe's finding: one comes
        // when the grace ends, however long the waits have grown.
        if !warned {
            let graceLeft = first + timing.holderGrace - now
            if graceLeft > .zero && graceLeft < delay { delay = graceLeft }
        }
        return delay
    }
}

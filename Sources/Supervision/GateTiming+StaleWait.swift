import CLibc

extension GateTiming {
    /// How long the gate waits from its first failed probe to its first stale
    /// search when every probe fails at once: the time `staleAfter` failed
    /// probes take on this schedule (about 6 s with the defaults). A leftover
    /// holding the device while the player runs gets the same time before it
    /// is ended, so both rules give a leftover one measure.
    public var staleSearchWait: Duration {
        var schedule = GateSchedule(timing: self)
        let start = MonotonicInstant(nanoseconds: 0)
        var now = start
        let failure = ProbeFailure(stage: .open, errno: EBUSY)
        var probe = 1
        while probe < staleAfter {
            var actions = SupervisionActions()
            let delay = schedule.failed(failure, at: now, &actions)
            now = now + delay
            probe += 1
            // From here every wait is the interval: the rest needs no steps.
            if delay == probeInterval && now - start >= holderGrace {
                now = now + probeInterval * (staleAfter - probe)
                break
            }
        }
        return now - start
    }
}

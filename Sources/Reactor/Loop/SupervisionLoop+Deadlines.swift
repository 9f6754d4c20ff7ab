import Supervision

/// The loop's one deadline: the earliest of the tables' deadlines, on the
/// one timer. The tables decide when; this only arms the timer for the
/// earliest instant and tells each table whose instant has come.
extension SupervisionLoop {
    /// The earliest deadline of the supervision table, the watchdog and the
    /// attached sources (nil: none, the loop blocks until a descriptor wakes it).
    var earliestDeadline: MonotonicInstant? {
        var earliest = tableDeadline
        func consider(_ instant: MonotonicInstant?) {
            guard let instant else { return }
            if earliest.map({ instant < $0 }) ?? true { earliest = instant }
        }
        consider(watchdog?.deadline)
        for source in sources { consider(source.deadline) }
        return earliest
    }

    /// Arms the timer for the earliest deadline, if that is not what it is
    /// armed for already (a healthy child costs no timer call per wakeup).
    func armTimer() throws(SystemError) {
        let due = earliestDeadline
        guard due != armedDeadline else { return }
        if let due {
            try timer.arm(after: due - clock())
        } else {
            try timer.disarm()
        }
        armedDeadline = due
    }

    /// The timer fired: every table whose deadline has come is told.
    func deadlinesPassed(at now: MonotonicInstant) {
        if let due = tableDeadline, due <= now {
            tableDeadline = nil
            submit(.deadline, at: now)
        }
        if watchdog?.deadlinePassed(at: now) == true { hooks.watchdogPing?() }
        for source in sources where exitCode == nil {
            if let due = source.deadline, due <= now, let event = source.deadlinePassed(at: now) { submit(event, at: now) }
        }
    }
}

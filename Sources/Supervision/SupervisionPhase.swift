/// Where the supervisor is. Each phase owns at most one armed deadline.
public enum SupervisionPhase: Equatable, Sendable {
    /// Before `start`.
    case idle
    /// A readiness probe is playing silence (deadline: probe deadline).
    case probing
    /// The device was unavailable; waiting to probe again (deadline: probe interval).
    case waitingForDevice
    /// The spawn action is being carried out (transient: the reactor answers at once).
    case starting
    /// A child is running (no deadline: zero wakeups).
    case running(pid: Int32, since: MonotonicInstant)
    /// Waiting out a restart delay (deadline: the backoff).
    case backingOff(until: MonotonicInstant)
    /// A stop signal was forwarded; waiting for the exit (deadline: stop timeout).
    case stopping(pid: Int32)
    /// SIGKILL was sent to the group; waiting for the exit (deadline: kill grace).
    case killing(pid: Int32)
    /// Supervision is over; monitord exits with this code.
    case finished(exitCode: Int32)
}

/// One line of the journal, as data; the reactor renders it.
public enum LogRecord: Equatable, Sendable {
    case started(pid: Int32, restart: Int, quiet: Bool)
    case exited(pid: Int32, status: TerminationStatus, runTime: Duration, next: RestartPlan)
    case folded(status: TerminationStatus, count: Int, over: Duration, next: Duration)
    case finishedCleanly(pid: Int32, runTime: Duration)
    case spawnFailed(SpawnFailure, next: RestartPlan)
    case cannotExecute(SpawnFailure)
    case stopping(signal: Int32, pid: Int32)
    case stopWhileWaiting(signal: Int32)
    case hurrying(signal: Int32, pid: Int32)
    case killedAfterTimeout(pid: Int32, timeout: Duration)
    case stopped(pid: Int32, status: TerminationStatus)
    case unkillable(pid: Int32)
    case forwarded(signal: Int32, pid: Int32)
    case dropped(signal: Int32)
    /// The first failed probe (debug: most waits end within the grace).
    case deviceUnavailable(ProbeFailure)
    /// The device is still unavailable when the holder grace ends: the warning.
    case deviceUnavailableAfterGrace(ProbeFailure, probes: Int, waited: Duration)
    case deviceStillUnavailable(ProbeFailure, probes: Int, waited: Duration)
    /// Not `warned`: a hiccup, one info line that says what the first failed
    /// probe found; otherwise the end of a wait the grace warning announced.
    case deviceReady(after: Duration, probes: Int, warned: Bool)
    case staleSearch(failedProbes: Int)
}

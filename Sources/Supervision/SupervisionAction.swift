/// What the state machine asks the reactor to do, in order.
public enum SupervisionAction: Equatable, Sendable {
    case spawn
    case armDeadline(Duration)
    case cancelDeadline
    /// Send a signal to the child (through its pidfd).
    case signalChild(Int32)
    /// SIGKILL the child's whole process group.
    case killGroup
    case startProbe
    case abortProbe
    /// Log who holds the sound devices (first failed probe).
    case reportHolders
    /// Find and end a stale player holding the gate's device.
    case reapStalePlayers
    case log(LogRecord)
    case notify(ServiceNotification)
    case exit(Int32)
}

/// What the state machine asks the reactor to do, in order.
public enum SupervisionAction: Equatable, Sendable {
    case spawn
    case armDeadline(Duration)
    case cancelDeadline
    /// Send a signal to the child (through its pidfd).
    case signalChild(Int32)
    /// Send a signal to every process in the child's group, the child
    /// included (a stop: the player's helpers end at the same time as it).
    case signalGroup(Int32)
    /// SIGKILL the child's whole process group.
    case killGroup
    case startProbe
    case abortProbe
    /// Find out who holds the device and what state is behind it (first
    /// failed probe): the holders of this PCM at info, the rest at debug and
    /// kept for the ready line.
    case reportHolders
    /// The same, logged in full at warning (the grace has passed).
    case warnHolders
    /// Find and end a stale player holding the gate's device.
    case reapStalePlayers
    /// The player is being stopped: stop watching who else holds its
    /// device. They no longer matter, and the player's own close of the
    /// device would wake a /proc scan in the middle of the stop.
    case endDeviceWatch
    case log(LogRecord)
    case notify(ServiceNotification)
    case exit(Int32)
}

extension SupervisionAction {
    /// The gate's actions: the gate carries them out, the reactor the rest.
    public var isGateAction: Bool {
        switch self {
        case .startProbe, .abortProbe, .reportHolders, .warnHolders, .reapStalePlayers, .endDeviceWatch: return true
        case .spawn, .armDeadline, .cancelDeadline, .signalChild, .signalGroup, .killGroup, .log, .notify, .exit: return false
        }
    }
}

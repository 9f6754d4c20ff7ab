/// How an action reads in a test's failure message. Written out by hand:
/// Embedded Swift has no reflection, and interpolating a value that is not
/// `CustomStringConvertible` prints "(cannot print value in embedded Swift)".
extension SupervisionAction: CustomStringConvertible {
    public var description: String {
        switch self {
        case .spawn: return "spawn"
        case .armDeadline(let delay): return "armDeadline(\(delay.humanReadable))"
        case .cancelDeadline: return "cancelDeadline"
        case .signalChild(let signal): return "signalChild(\(Signals.name(signal)))"
        case .signalGroup(let signal): return "signalGroup(\(Signals.name(signal)))"
        case .killGroup: return "killGroup"
        case .startProbe: return "startProbe"
        case .abortProbe: return "abortProbe"
        case .reportHolders: return "reportHolders"
        case .warnHolders: return "warnHolders"
        case .reapStalePlayers: return "reapStalePlayers"
        case .endDeviceWatch: return "endDeviceWatch"
        case .log(let record): return "log(\(record.kind))"
        case .notify(.ready): return "notify(ready)"
        case .notify(.stopping): return "notify(stopping)"
        case .exit(let code): return "exit(\(code))"
        }
    }
}

extension LogRecord {
    /// The record's case, for test messages (the reactor renders the line).
    public var kind: String {
        switch self {
        case .started: return "started"
        case .exited: return "exited"
        case .folded: return "folded"
        case .finishedCleanly: return "finishedCleanly"
        case .spawnFailed: return "spawnFailed"
        case .cannotExecute: return "cannotExecute"
        case .stopping: return "stopping"
        case .stopWhileWaiting: return "stopWhileWaiting"
        case .hurrying: return "hurrying"
        case .killedAfterTimeout: return "killedAfterTimeout"
        case .stopped: return "stopped"
        case .unkillable: return "unkillable"
        case .forwarded: return "forwarded"
        case .dropped: return "dropped"
        case .deviceUnavailable: return "deviceUnavailable"
        case .deviceUnavailableAfterGrace: return "deviceUnavailableAfterGrace"
        case .deviceStillUnavailable: return "deviceStillUnavailable"
        case .deviceReady: return "deviceReady"
        case .staleSearch: return "staleSearch"
        }
    }
}

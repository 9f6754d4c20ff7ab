import Presentation
import Supervision

/// What the readiness gate's I/O needs to know, fixed at start-up (the
/// table's half is `GateTiming`; `Options.derived` makes both).
public struct GateSettings: Equatable, Sendable {
    /// The PCM to probe and how to play to it.
    public var parameters: PCMParameters
    /// Where device nodes live (`/dev/snd`; tests point it elsewhere).
    public var soundDirectory: String
    /// The command's name as players are known by (`squeezelite`).
    public var commandBaseName: String
    /// COMMAND's first word as given (`python3`, `/usr/bin/squeezelite`): the
    /// stale rule resolves it through PATH and symbolic links once.
    public var commandPath: String
    /// Which leftover processes the stale rule may end.
    public var staleIdentity: StaleIdentity
    /// The script COMMAND runs if it is an interpreter (`InterpreterScript`):
    /// when it names a regular file, a leftover must run it too.
    public var scriptCandidate: String?
    /// How long a stale player gets between SIGTERM and SIGKILL, and the
    /// least time between two stale-player kills for this device.
    public var stopTimeout: Duration
    /// How long a leftover may hold the device while the player runs before
    /// it is ended: the time the gate takes to its first stale search
    /// (`GateTiming.staleSearchWait`).
    public var leftoverWindow: Duration = GateTiming().staleSearchWait

    public init(parameters: PCMParameters, soundDirectory: String = "/dev/snd",
                commandBaseName: String, commandPath: String? = nil, staleIdentity: StaleIdentity = .none,
                scriptCandidate: String? = nil, stopTimeout: Duration) {
        self.parameters = parameters
        self.soundDirectory = soundDirectory
        self.commandBaseName = commandBaseName
        self.commandPath = commandPath ?? commandBaseName
        self.staleIdentity = staleIdentity
        self.scriptCandidate = scriptCandidate
        self.stopTimeout = stopTimeout
    }
}

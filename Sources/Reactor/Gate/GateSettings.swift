/// What the readiness gate's I/O needs to know, fixed at start-up (the
/// table's half is `GateTiming`; `Options.derived` makes both).
public struct GateSettings: Equatable, Sendable {
    /// The PCM to probe and how to play to it.
    public var parameters: PCMParameters
    /// Where device nodes live (`/dev/snd`; tests point it elsewhere).
    public var soundDirectory: String
    /// The command's name as players are known by (`squeezelite`).
    public var commandBaseName: String
    /// How long a stale player gets between SIGTERM and SIGKILL, and the
    /// least time between two stale-player kills for this device.
    public var stopTimeout: Duration

    public init(parameters: PCMParameters, soundDirectory: String = "/dev/snd",
                commandBaseName: String, stopTimeout: Duration = .seconds(3)) {
        self.parameters = parameters
        self.soundDirectory = soundDirectory
        self.commandBaseName = commandBaseName
        self.stopTimeout = stopTimeout
    }
}

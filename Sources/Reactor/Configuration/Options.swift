import Supervision

/// Everything the command line can say.
public struct Options: Equatable, Sendable {
    public enum Verbosity: Equatable, Sendable { case quiet, normal, verbose }
    public enum GateMode: Equatable, Sendable { case auto, off }

    public var backoff = BackoffPolicy.standard
    public var restart = RestartPolicy.onFailure
    public var stopTimeout: Duration = .seconds(3)
    public var verbosity = Verbosity.normal
    public var gateMode = GateMode.auto
    public var alsaDevice: String?
    public var probeDuration = GateTiming.defaultProbeDuration
    /// nil: the default retry, or the interval if that is shorter.
    public var probeRetry: Duration?
    public var probeInterval = GateTiming.defaultProbeInterval
    public var probeRate: UInt32 = 48000
    public var probeChannels: UInt32 = 2
    public var staleAfter = GateTiming.defaultStaleAfter
    public var holderGrace = GateTiming.defaultHolderGrace
    /// `--stale-match ARG`, in order: the argv elements a leftover instance
    /// of this player has (see `staleIdentity`).
    public var staleMatch: [String] = []
    public var soundDirectory = "/dev/snd"
    public var statusFile: String?
    /// COMMAND and its arguments, untouched.
    public var command: [String] = []

    public init() {}

    /// The device the readiness gate probes, or nil when there is no gate:
    /// `--alsa-device` wins; otherwise (auto) the command's `-o lb*` value.
    public var gateDevice: String? {
        if gateMode == .off { return nil }
        if let alsaDevice { return alsaDevice }
        guard let output = GateDetection.outputDevice(in: command), output.hasPrefix("lb") else { return nil }
        return output
    }

    /// Which processes the stale rule may end, when the command is gated:
    /// `--stale-match` when given; otherwise the `-o` device the gate was
    /// found from; with `--alsa-device` and no `--stale-match`, none.
    public var staleIdentity: StaleIdentity {
        if !staleMatch.isEmpty { return .arguments(staleMatch) }
        if alsaDevice != nil { return .none }
        return gateDevice.map { .outputDevice($0) } ?? .none
    }
}

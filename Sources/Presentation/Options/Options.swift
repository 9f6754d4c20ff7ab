import Supervision

/// Everything the command line can say; what is not said is `OptionDefaults`.
public struct Options: Equatable, Sendable {
    public enum Verbosity: Equatable, Sendable { case quiet, normal, verbose }
    public enum GateMode: String, Equatable, Sendable { case auto, watch, off }

    public var backoff = OptionDefaults.backoff
    public var restart = OptionDefaults.restart
    public var stopTimeout = OptionDefaults.stopTimeout
    public var verbosity = Verbosity.normal
    public var gateMode = OptionDefaults.gateMode
    public var alsaDevice: String?
    public var probeDuration = OptionDefaults.probeDuration
    /// nil: the default retry, or the interval if that is shorter.
    public var probeRetry: Duration?
    public var probeInterval = OptionDefaults.probeInterval
    public var probeRate = OptionDefaults.probeRate
    public var probeChannels = OptionDefaults.probeChannels
    public var staleAfter = OptionDefaults.staleAfter
    public var holderGrace = OptionDefaults.holderGrace
    /// `--stale-match ARG`, in order: the argv elements a leftover instance
    /// of this player has (see `staleIdentity`).
    public var staleMatch: [String] = []
    /// Quick exits in a row before a leftover holding no device is ended
    /// (`--stale-match` only).
    public var staleAfterExits = OptionDefaults.staleAfterExits
    public var soundDirectory = OptionDefaults.soundDirectory
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

    /// Which processes the stale rule may end: `--stale-match` when given
    /// (gated or not: the quick-exit rule needs no device); otherwise, for a
    /// gated command, the `-o` device the gate was found from; with
    /// `--alsa-device` and no `--stale-match`, none.
    public var staleIdentity: StaleIdentity {
        if !staleMatch.isEmpty { return .arguments(staleMatch) }
        if alsaDevice != nil { return .none }
        return gateDevice.map { .outputDevice($0) } ?? .none
    }
}

/// Everything the command line can say.
public struct Options: Equatable, Sendable {
    public enum Verbosity: Equatable, Sendable { case quiet, normal, verbose }
    public enum GateMode: Equatable, Sendable { case auto, off }

    public var backoff = BackoffPolicy.standard
    public var stopTimeout: Duration = .seconds(3)
    public var verbosity = Verbosity.normal
    public var gateMode = GateMode.auto
    public var alsaDevice: String?
    public var probeDuration: Duration = .seconds(1)
    public var probeInterval: Duration = .seconds(2)
    public var probeRate: UInt32 = 48000
    public var probeChannels: UInt32 = 2
    public var staleAfter = 4
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
        guard let output = CommandLineScan.outputDevice(in: command), output.hasPrefix("lb") else { return nil }
        return output
    }
}

/// Reading a command's own arguments (for the gate), shared by the gate and stale-player logic.
public enum CommandLineScan {
    /// The value of the first `-o VALUE` or `-oVALUE` after the command name.
    public static func outputDevice(in command: [String]) -> String? {
        var index = 1
        while index < command.count {
            let argument = command[index]
            if argument == "-o" {
                return index + 1 < command.count ? command[index + 1] : nil
            }
            if argument.hasPrefix("-o") && !argument.hasPrefix("-o=") {
                return String(argument.dropFirst(2))
            }
            index += 1
        }
        return nil
    }
}

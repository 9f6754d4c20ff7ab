import Supervision

/// Every long option the command line knows, in the order `--help` lists them.
public enum OptionName: String, CaseIterable, Sendable {
    case restart
    case backoffInitial = "backoff-initial"
    case backoffMax = "backoff-max"
    case backoffReset = "backoff-reset"
    case stopTimeout = "stop-timeout"
    case alsaGate = "alsa-gate"
    case alsaDevice = "alsa-device"
    case probeDuration = "probe-duration"
    case probeRetry = "probe-retry"
    case probeInterval = "probe-interval"
    case probeRate = "probe-rate"
    case probeChannels = "probe-channels"
    case holderGrace = "holder-grace"
    case sndDir = "snd-dir"
    case staleAfter = "stale-after"
    case staleMatch = "stale-match"
    case staleAfterExits = "stale-after-exits"
    case statusFile = "status-file"
    case quiet, verbose, help, version
}

/// The part of `--help` and of the man page's OPTIONS an option is listed in.
public enum OptionSection: CaseIterable, Sendable {
    case restart, gate, stale, status, output
}

/// The values an option has when it is not given. `Options` starts from
/// these, and `--help` and the man page print them (a test compares all
/// three). The restart and gate numbers are the engine's own constants.
public enum OptionDefaults {
    public static let restart = RestartPolicy.onFailure
    public static let backoff = BackoffPolicy.standard
    /// The table's own default (`SupervisionConfiguration.init`'s).
    public static let stopTimeout = SupervisionConfiguration().stopTimeout
    public static let gateMode = Options.GateMode.auto
    public static let probeDuration = GateTiming.defaultProbeDuration
    public static let probeRetry = GateTiming.defaultProbeRetry
    public static let probeInterval = GateTiming.defaultProbeInterval
    public static let probeRate: UInt32 = 48000
    public static let probeChannels: UInt32 = 2
    public static let holderGrace = GateTiming.defaultHolderGrace
    public static let soundDirectory = "/dev/snd"
    public static let staleAfter = GateTiming.defaultStaleAfter
    public static let staleAfterExits = 3
}

/// What the parser accepts for one option's value, beyond its type.
public enum OptionLimit: Equatable, Sendable {
    case none
    /// A duration longer than zero.
    case positive
    /// A duration of at least this.
    case atLeast(Duration)
    /// A whole number in this range.
    case range(ClosedRange<UInt32>)

    /// How `--help` and the man page say it (`at least 1ms`, `1 to 32`).
    public var text: String? {
        switch self {
        case .none: return nil
        case .positive: return "more than 0"
        case .atLeast(let least): return "at least \(least.commandLineText)"
        case .range(let range): return "\(range.lowerBound) to \(range.upperBound)"
        }
    }
}

/// One option as the parser, `--help` and the man page know it.
public struct OptionEntry: Sendable {
    public var name: OptionName
    /// The one-letter form (`q` for `-q`), if any.
    public var short: Character? = nil
    /// What the value looks like (`DUR`, `auto|off`); nil for a flag.
    public var value: String? = nil
    public var section: OptionSection
    /// What it does, for `--help` (the default and limit are added to it).
    public var help: String
    /// The default as it would be typed (`3s`); nil when there is none.
    public var defaultValue: String? = nil
    public var limit: OptionLimit = .none

    public var long: String { "--" + name.rawValue }

    /// `(default 3s)`, `(default 4s, at least 1ms)`, `(1 to 32)`; nil when
    /// the option has neither a default nor a limit.
    public var defaultAndLimit: String? {
        var parts: [String] = []
        if let defaultValue { parts.append("default " + defaultValue) }
        if let limit = limit.text { parts.append(limit) }
        if parts.isEmpty { return nil }
        var text = "("
        for (index, part) in parts.enumerated() { text += (index == 0 ? "" : ", ") + part }
        return text + ")"
    }
}

/// The one list of options: the parser looks names up here, `--help` is
/// written from it, and `Options` takes its defaults from `OptionDefaults`,
/// which the entries print.
public enum OptionTable {
    public static let entries: [OptionEntry] = OptionName.allCases.map(entry)

    /// The option `-letter` stands for.
    public static func option(short letter: Character) -> OptionName? {
        for entry in entries where entry.short == letter { return entry.name }
        return nil
    }

    // An exhaustive switch: an option the parser knows cannot lack an entry.
    public static func entry(_ name: OptionName) -> OptionEntry {
        switch name {
        case .restart:
            return OptionEntry(name: name, value: "on-failure|always", section: .restart,
                               help: "on-failure: exit 0 ends supervision; always: exit 0 restarts too, through the same"
                                   + " backoff and gate, for players such as squeezelite that exit 0 when their"
                                   + " output cannot be opened",
                               defaultValue: OptionDefaults.restart.rawValue)
        case .backoffInitial:
            return duration(name, .restart, "first restart delay after a fast failure", OptionDefaults.backoff.initial)
        case .backoffMax:
            return duration(name, .restart, "cap of the doubling delay", OptionDefaults.backoff.maximum)
        case .backoffReset:
            return duration(name, .restart, "a run this long is healthy and resets the delay", OptionDefaults.backoff.reset)
        case .stopTimeout:
            return duration(name, .restart, "after SIGTERM/SIGINT/SIGQUIT, wait this long before SIGKILLing the child's"
                                + " process group (0: SIGKILL at once, no stop signal)", OptionDefaults.stopTimeout)
        case .alsaGate:
            return OptionEntry(name: name, value: "auto|watch|off", section: .gate,
                               help: "auto: gate when COMMAND has `-o lb...`; watch: the same device, but start at once"
                                   + " and only watch it while the player runs; off: never gate",
                               defaultValue: OptionDefaults.gateMode.rawValue)
        case .alsaDevice:
            return OptionEntry(name: name, value: "PCM", section: .gate, help: "gate on PCM whatever the command line says")
        case .probeDuration:
            return duration(name, .gate, "silence written by each probe; it succeeds once that is written and two"
                                + " periods were played", OptionDefaults.probeDuration, limit: .positive)
        case .probeRetry:
            return duration(name, .gate, "first wait after a failed probe, at most the interval",
                            OptionDefaults.probeRetry, limit: .atLeast(.milliseconds(1)))
        case .probeInterval:
            return duration(name, .gate, "longest wait between failed probes: waits grow from the retry with the time"
                                + " waited", OptionDefaults.probeInterval, limit: .atLeast(.milliseconds(1)))
        case .probeRate:
            return OptionEntry(name: name, value: "HZ", section: .gate, help: "probe sample rate",
                               defaultValue: "\(OptionDefaults.probeRate)", limit: .range(8000...384_000))
        case .probeChannels:
            return OptionEntry(name: name, value: "N", section: .gate, help: "probe channels",
                               defaultValue: "\(OptionDefaults.probeChannels)", limit: .range(1...32))
        case .holderGrace:
            return duration(name, .gate, "a device ready again within this is one info line (e.g. dmix state a"
                                + " stopped player left, cleared by the next open); still unavailable after it: a"
                                + " warning naming holders or dmix state; 0 warns at the first failure",
                            OptionDefaults.holderGrace)
        case .sndDir:
            return OptionEntry(name: name, value: "DIR", section: .gate,
                               help: "where device nodes are, for naming holders and noticing a released device",
                               defaultValue: OptionDefaults.soundDirectory)
        case .staleAfter:
            return OptionEntry(name: name, value: "N", section: .stale,
                               help: "failed probes before one is looked for and ended, SIGTERM then SIGKILL; about"
                                   + " 6 s with the default schedule",
                               defaultValue: "\(OptionDefaults.staleAfter)", limit: .range(1...1_000_000))
        case .staleMatch:
            return OptionEntry(name: name, value: "ARG", section: .stale,
                               help: "it has ARG as a whole element of its argv after argv[0]; repeatable: every"
                                   + " ARG, in any order (`--x=v` is one element; `ch2` is not `ch21`)")
        case .staleAfterExits:
            return OptionEntry(name: name, value: "N", section: .stale,
                               help: "quick exits in a row (runs shorter than the backoff reset) before one that holds"
                                   + " no device, such as a port, is looked for and ended; needs --stale-match",
                               defaultValue: "\(OptionDefaults.staleAfterExits)", limit: .range(1...1_000_000))
        case .statusFile:
            return OptionEntry(name: name, value: "PATH", section: .status,
                               help: "keep PATH updated with one key=value line per state; its summary= is the"
                                   + " sentence STATUS= shows")
        case .quiet:
            return OptionEntry(name: name, short: "q", section: .output, help: "warnings and errors only")
        case .verbose:
            return OptionEntry(name: name, short: "v", section: .output, help: "also debug lines (forwarded signals, ...)")
        case .help:
            return OptionEntry(name: name, short: "h", section: .output, help: "this text")
        case .version:
            return OptionEntry(name: name, section: .output, help: "print the version")
        }
    }

    private static func duration(_ name: OptionName, _ section: OptionSection, _ help: String, _ value: Duration,
                                 limit: OptionLimit = .none) -> OptionEntry {
        OptionEntry(name: name, value: "DUR", section: section, help: help, defaultValue: value.commandLineText,
                    limit: limit)
    }
}

import Supervision

/// A command-line mistake: one line for the operator, exit 64 (EX_USAGE).
public struct UsageError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What the command line asks for.
public enum Invocation: Equatable, Sendable {
    case run(Options)
    case help
    case version
}

/// `monitord [OPTIONS] [--] COMMAND [ARGS...]` with POSIX `+` semantics:
/// options end at the first word that is not an option, so
/// `monitord squeezelite -o lb0c` hands `-o` to squeezelite.
public enum OptionParser {
    /// `undecodable` holds the indexes of the words that were not valid UTF-8
    /// (decoded with U+FFFD in `arguments`): an option value taken from one
    /// is refused, since what monitord would use is not what was typed.
    /// COMMAND's words may be anything: exec gets their raw bytes.
    public static func parse(_ arguments: [String], undecodable: Set<Int> = []) throws(UsageError) -> Invocation {
        var options = Options()
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if word == "--" {
                options.command = Array(arguments[(index + 1)...])
                break
            }
            if !word.hasPrefix("-") || word == "-" {
                options.command = Array(arguments[index...])
                break
            }
            index += 1
            if word.hasPrefix("--") {
                var name = String(word.dropFirst(2))
                var inlineValue: String?
                if let equals = name.firstIndex(of: "=") {
                    inlineValue = String(name[name.index(after: equals)...])
                    name = String(name[..<equals])
                }
                guard let option = OptionName(rawValue: name) else {
                    throw UsageError("unknown option '--\(printable(name))' (see monitord --help)")
                }
                let entry = OptionTable.entry(option)
                if entry.value == nil {
                    if inlineValue != nil { throw UsageError("option '--\(name)' takes no value") }
                    switch option {
                    case .help: return .help
                    case .version: return .version
                    case .quiet: options.verbosity = .quiet
                    case .verbose: options.verbosity = .verbose
                    default: break
                    }
                    continue
                }
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    guard index < arguments.count else { throw UsageError("option '--\(name)' needs a value") }
                    value = arguments[index]
                    index += 1
                }
                if undecodable.contains(index - 1) {
                    throw UsageError("--\(name) '\(printable(value))': not valid UTF-8")
                }
                try apply(entry, value, to: &options)
            } else {
                // Short flags, combinable: -qv.
                for flag in word.dropFirst() {
                    switch OptionTable.option(short: flag) {
                    case .help: return .help
                    case .quiet: options.verbosity = .quiet
                    case .verbose: options.verbosity = .verbose
                    default: throw UsageError("unknown option '-\(printable(String(flag)))' (see monitord --help)")
                    }
                }
            }
        }
        try validate(options)
        return .run(options)
    }

    private static func apply(_ entry: OptionEntry, _ value: String, to options: inout Options) throws(UsageError) {
        let flag = entry.long
        switch entry.name {
        case .backoffInitial: options.backoff.initial = try duration(entry, value)
        case .backoffMax: options.backoff.maximum = try duration(entry, value)
        case .backoffReset: options.backoff.reset = try duration(entry, value)
        case .stopTimeout: options.stopTimeout = try duration(entry, value)
        case .restart:
            guard let policy = RestartPolicy(rawValue: value) else {
                throw UsageError("\(flag) '\(printable(value))': expected 'on-failure' or 'always'")
            }
            options.restart = policy
        // A zero probe proves nothing; a zero wait would probe a busy device
        // in a tight loop: the CPU burn monitord exists to prevent.
        case .probeDuration: options.probeDuration = try duration(entry, value)
        case .probeInterval: options.probeInterval = try duration(entry, value)
        case .probeRetry: options.probeRetry = try duration(entry, value)
        case .alsaGate:
            guard let mode = Options.GateMode(rawValue: value) else {
                throw UsageError("\(flag) '\(printable(value))': expected 'auto', 'watch' or 'off'")
            }
            options.gateMode = mode
        case .alsaDevice: options.alsaDevice = try nonEmpty(flag, value)
        case .probeRate: options.probeRate = try integer(entry, value)
        case .probeChannels: options.probeChannels = try integer(entry, value)
        case .staleAfter: options.staleAfter = Int(try integer(entry, value))
        case .staleAfterExits: options.staleAfterExits = Int(try integer(entry, value))
        case .holderGrace: options.holderGrace = try duration(entry, value)
        // An empty ARG would be an element of almost no argv, but it reads as
        // "match anything" and is always a mistake.
        case .staleMatch: options.staleMatch.append(try nonEmpty(flag, value))
        case .sndDir: options.soundDirectory = try nonEmpty(flag, value)
        case .statusFile: options.statusFile = try nonEmpty(flag, value)
        case .quiet, .verbose, .help, .version: break
        }
    }

    private static func validate(_ options: Options) throws(UsageError) {
        if options.command.isEmpty { throw UsageError("missing COMMAND (usage: monitord [OPTIONS] [--] COMMAND [ARGS...])") }
        if options.command[0].isEmpty { throw UsageError("COMMAND is empty") }
        if options.backoff.initial > options.backoff.maximum {
            throw UsageError("--backoff-initial \(options.backoff.initial.humanReadable) is longer than --backoff-max \(options.backoff.maximum.humanReadable)")
        }
        if let retry = options.probeRetry, retry > options.probeInterval {
            throw UsageError("--probe-retry \(retry.humanReadable) is longer than --probe-interval \(options.probeInterval.humanReadable)")
        }
        if options.gateMode == .off && options.alsaDevice != nil {
            throw UsageError("--alsa-device and --alsa-gate off contradict each other")
        }
        // `watch` asked for explicitly, with nothing to watch: silently
        // running unwatched would hide the mistake.
        if options.gateMode == .watch && options.gateDevice == nil {
            throw UsageError("--alsa-gate watch needs a device: add --alsa-device PCM (COMMAND has no -o lb...)")
        }
    }

    /// A duration within the entry's limit.
    private static func duration(_ entry: OptionEntry, _ value: String) throws(UsageError) -> Duration {
        let flag = entry.long
        let parsed: Duration
        do {
            parsed = try DurationParser.parse(value)
        } catch {
            let shown = printable(value)
            switch error {
            case .empty: throw UsageError("\(flag) needs a duration, got an empty value")
            case .negative: throw UsageError("\(flag) '\(shown)': a duration cannot be negative")
            case .tooLarge: throw UsageError("\(flag) '\(shown)': too long (at most 24h)")
            case .unknownUnit(let unit): throw UsageError("\(flag) '\(shown)': unknown unit '\(printable(unit))' (use ms, s, m or h)")
            case .malformed: throw UsageError("\(flag) '\(shown)': not a duration (examples: 150ms, 2s, 1.5s, 1m)")
            }
        }
        switch entry.limit {
        case .positive where parsed <= .zero:
            throw UsageError("\(flag) '\(printable(value))': must be longer than 0")
        case .atLeast(let least) where parsed < least:
            throw UsageError("\(flag) '\(printable(value))': must be \(entry.limit.text ?? "")")
        default: return parsed
        }
    }

    /// A whole number within the entry's range.
    private static func integer(_ entry: OptionEntry, _ value: String) throws(UsageError) -> UInt32 {
        guard case .range(let range) = entry.limit else { preconditionFailure("an integer option without a range") }
        guard let number = UInt32(value), range.contains(number) else {
            throw UsageError("\(entry.long) '\(printable(value))': expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    private static func nonEmpty(_ flag: String, _ value: String) throws(UsageError) -> String {
        if value.isEmpty { throw UsageError("\(flag) needs a value, got an empty one") }
        return value
    }

    /// Keeps an error message to one readable line whatever the operator typed:
    /// C0 and C1 controls, DEL, the Unicode line and paragraph separators and
    /// undecodable bytes (U+FFFD) become `?`, and at most 64 scalars are shown.
    public static func printable(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars.prefix(64) {
            if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}"
                || scalar == "\u{FFFD}" {
                out += "?"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return value.unicodeScalars.count > 64 ? out + "..." : out
    }
}

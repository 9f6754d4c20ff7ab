// libFuzzer target for OptionParser.parse (monitord's command line).
//
// The input bytes are split at NUL into argv words (argv words cannot hold
// a NUL). Each word list is parsed twice: decoded as UTF-8 with repair
// (what CommandLine.arguments hands monitord for non-UTF-8 bytes), and with
// every byte taken as the scalar U+00XX (so C1 controls, U+0085 and friends
// reach the error messages as valid Unicode). The raw-bytes path: for the
// UTF-8 decoding the parser is also told which words were not valid UTF-8
// (as MonitordMain tells it from argv), and must refuse an option value
// taken from one; COMMAND's raw bytes reach exec through
// CommandLine.unsafeArgv, indexed by how many words the command has, which
// is why the command must be a suffix of the words (checked below).
//
// Invariants:
// - parse never traps and is deterministic;
// - `.run`: no option value came from a non-UTF-8 word; COMMAND non-empty, its first word non-empty, the command is a
//   suffix of the arguments; backoff initial <= max; every duration in
//   0...24h, probe duration > 0; rate, channels, stale-after and
//   stale-after-exits in range;
//   `--alsa-device` not combined with `--alsa-gate off`; non-empty paths;
//   `--stale-match` values non-empty, each one typed as a value, gated or
//   not, and the stale identity is theirs, else none for `--alsa-device`,
//   else the `-o` device; the quick-exit rule exists exactly when they were
//   given; the script candidate is a non-option word of the command after
//   argv[0];
//   gateDevice and humanReadable do not trap; the derived table and gate
//   configurations agree on the device, probe duration and stop timeout;
// - a UsageError message is non-empty, at most 400 bytes, a single line with
//   no control characters (C0, DEL, C1, U+2028, U+2029), and names what was
//   wrong: COMMAND, an option given on the command line, or the unknown
//   option as it was typed (made printable).
import Presentation
import Supervision
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOptions(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    let words = input.isEmpty ? [] : input.split(separator: 0, omittingEmptySubsequences: false)
    // As monitord sees argv: repaired text plus which words were not UTF-8.
    var undecodable = Set<Int>()
    for (index, word) in words.enumerated() where String(validating: word, as: UTF8.self) == nil {
        undecodable.insert(index)
    }
    check(words.map { String(decoding: $0, as: UTF8.self) }, undecodable: undecodable)
    check(words.map { word in
        var text = ""
        for byte in word { text.unicodeScalars.append(Unicode.Scalar(byte)) }
        return text
    })
    return 0
}

func check(_ arguments: [String], undecodable: Set<Int> = []) {
    let shown = "[" + arguments.map { "'\(escaped($0))'" }.joined(separator: ", ") + "]"
    let first = Result { () throws(UsageError) in try OptionParser.parse(arguments, undecodable: undecodable) }
    let second = Result { () throws(UsageError) in try OptionParser.parse(arguments, undecodable: undecodable) }
    require(first == second, "\(shown): two parses differ")
    switch first {
    case .success(.run(let options)):
        checkRun(options, arguments, shown)
        // Only COMMAND's words may be undecodable: exec gets their raw bytes.
        let commandStart = arguments.count - options.command.count
        require(undecodable.allSatisfy { $0 >= commandStart }, "\(shown): a non-UTF-8 option value was accepted")
    case .success(.help), .success(.version): break
    case .failure(let error): checkError(error.message, arguments, shown)
    }
}

func checkRun(_ options: Options, _ arguments: [String], _ shown: String) {
    let command = options.command
    require(!command.isEmpty, "\(shown): .run without a command")
    require(!command[0].isEmpty, "\(shown): .run with an empty command word")
    require(command.count <= arguments.count && Array(arguments.suffix(command.count)) == command,
            "\(shown): the command is not a suffix of the arguments")
    require(options.backoff.initial <= options.backoff.maximum, "\(shown): backoff initial > max")
    let durations = [options.backoff.initial, options.backoff.maximum, options.backoff.reset,
                     options.stopTimeout, options.probeDuration, options.probeInterval, options.holderGrace]
        + (options.probeRetry.map { [$0] } ?? [])
    for value in durations {
        require(inDayRange(value), "\(shown): duration \(value) outside 0...24h")
        let text = value.humanReadable
        require(!text.isEmpty && !text.utf8.contains(10), "\(shown): humanReadable '\(escaped(text))'")
    }
    require(options.probeDuration > .zero, "\(shown): probe duration 0")
    require((8000...384_000).contains(options.probeRate), "\(shown): probe rate \(options.probeRate)")
    require((1...32).contains(options.probeChannels), "\(shown): probe channels \(options.probeChannels)")
    require((1...1_000_000).contains(options.staleAfter), "\(shown): stale-after \(options.staleAfter)")
    require((1...1_000_000).contains(options.staleAfterExits), "\(shown): stale-after-exits \(options.staleAfterExits)")
    require(!(options.gateMode == .off && options.alsaDevice != nil), "\(shown): --alsa-device with --alsa-gate off")
    require(options.alsaDevice.map { !$0.isEmpty } ?? true, "\(shown): empty --alsa-device")
    require(options.statusFile.map { !$0.isEmpty } ?? true, "\(shown): empty --status-file")
    require(!options.soundDirectory.isEmpty, "\(shown): empty --snd-dir")
    if let device = options.gateDevice {
        require(!device.isEmpty, "\(shown): empty gate device")
    }
    checkStaleIdentity(options, arguments, shown)
    // The table's and the gate's halves agree on what they share.
    let derived = options.derived
    require((derived.gate == nil) == (options.gateDevice == nil) && (derived.table.gate == nil) == (derived.gate == nil),
            "\(shown): the gate is on for one half only")
    if let gate = derived.gate, let timing = derived.table.gate {
        require(gate.parameters.device == options.gateDevice && gate.parameters.duration == timing.probeDuration
                && gate.stopTimeout == derived.table.stopTimeout, "\(shown): the gate's halves disagree")
        require(gate.staleIdentity == options.staleIdentity && gate.commandPath == command[0]
                && gate.scriptCandidate == InterpreterScript.candidate(in: command), "\(shown): the gate's stale identity differs")
    }
}

/// `--stale-match`: what the rule may end follows from the options alone.
func checkStaleIdentity(_ options: Options, _ arguments: [String], _ shown: String) {
    let optionWords = arguments.dropLast(options.command.count)
    for value in options.staleMatch {
        require(!value.isEmpty, "\(shown): empty --stale-match value")
        require(optionWords.contains(value) || optionWords.contains("--stale-match=" + value),
                "\(shown): --stale-match '\(escaped(value))' was never typed")
    }
    let quickExits = options.quickExitSettings
    require((quickExits == nil) == options.staleMatch.isEmpty, "\(shown): the quick-exit rule without --stale-match, or none with it")
    if let quickExits {
        require(quickExits.staleMatch == options.staleMatch && quickExits.threshold == options.staleAfterExits
                 && quickExits.reset == options.backoff.reset && quickExits.commandPath == options.command[0],
                 "\(shown): the quick-exit rule's settings differ from the options")
    }
    let expected: StaleIdentity
    if !options.staleMatch.isEmpty {
        expected = .arguments(options.staleMatch)
    } else if options.alsaDevice != nil {
        expected = .none
    } else if let device = options.gateDevice {
        expected = .outputDevice(device)
    } else {
        expected = .none
    }
    require(options.staleIdentity == expected, "\(shown): stale identity \(options.staleIdentity), expected \(expected)")
    if let script = InterpreterScript.candidate(in: options.command) {
        let index = options.command.dropFirst().firstIndex(of: script)
        require(!script.isEmpty && index != nil, "\(shown): script candidate '\(escaped(script))' is not a word of the command")
        require(!script.hasPrefix("-") || script == "-" || options.command.dropFirst().contains("--"),
                "\(shown): script candidate '\(escaped(script))' is an option")
    }
}

// Taken from the option table the parser uses: a list kept by hand here
// would miss a new option, and a correct message naming it would be reported.
let longOptions = OptionName.allCases.map(\.rawValue)

func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
}

func checkError(_ message: String, _ arguments: [String], _ shown: String) {
    require(!message.isEmpty, "\(shown): empty error message")
    require(message.utf8.count <= 400, "\(shown): error message of \(message.utf8.count) bytes")
    require(!message.unicodeScalars.contains(where: isControl), "\(shown): control character in '\(escaped(message))'")
    if message.utf8.starts(with: "missing COMMAND".utf8) { return }
    if message == "COMMAND is empty" {
        require(arguments.contains(""), "\(shown): 'COMMAND is empty' without an empty word")
        return
    }
    let unknown = "unknown option '"
    if message.utf8.starts(with: unknown.utf8) {
        // The option exactly as typed, made printable: `--NAME` or `-C`.
        let suffix = "' (see monitord --help)"
        // Compared as bytes: a combining scalar in the name may join the quote
        // into one Character, which would defeat String.hasSuffix.
        let utf8 = Array(message.utf8)
        require(utf8.count >= unknown.utf8.count + suffix.utf8.count && utf8.suffix(suffix.utf8.count).elementsEqual(suffix.utf8),
                "\(shown): '\(escaped(message))' lacks the help hint")
        let named = String(decoding: utf8.dropFirst(unknown.utf8.count).dropLast(suffix.utf8.count), as: UTF8.self)
        require(matchesTyped(named, arguments), "\(shown): '\(escaped(message))' does not name an option that was typed")
        return
    }
    // Otherwise it must name a known option the command line used.
    let named = longOptions.contains { name in
        message.contains("--\(name)") && arguments.contains { $0 == "--\(name)" || $0.hasPrefix("--\(name)=") }
    }
    require(named, "\(shown): '\(escaped(message))' names no option that was given")
}

/// Whether `named` is how the parser shows one of the typed options.
func matchesTyped(_ named: String, _ arguments: [String]) -> Bool {
    arguments.contains { word in
        if word.hasPrefix("--") {
            let body = word.dropFirst(2)
            let name = body.firstIndex(of: "=").map { body[..<$0] } ?? body
            return named.utf8.elementsEqual(("--" + OptionParser.printable(String(name))).utf8)
        }
        if word.hasPrefix("-") && named.hasPrefix("-") {
            return word.dropFirst().contains { ("-" + OptionParser.printable(String($0))).utf8.elementsEqual(named.utf8) }
        }
        return false
    }
}

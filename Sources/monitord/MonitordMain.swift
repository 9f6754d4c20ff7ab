import Reactor

import Presentation
import Supervision
import CLibc

enum MonitordMain {
    static let version = "0.1.0"

    static func run(arguments: [String]) -> Int32 {
        StandardDescriptors.ensureOpen()
        let invocation: Invocation
        do {
            invocation = try OptionParser.parse(arguments, undecodable: undecodableArguments())
        } catch {
            writeStderr("monitord: \(error.message)\n")
            return ExitCode.usage
        }
        switch invocation {
        case .help:
            writeStdout(HelpText.text)
            return ExitCode.success
        case .version:
            writeStdout("monitord \(version)\n")
            return ExitCode.success
        case .run(let options):
            return supervise(options, commandStart: arguments.count - options.command.count)
        }
    }

    private static func supervise(_ options: Options, commandStart: Int) -> Int32 {
        let logger = Logger(journal: Logger.stderrIsJournal())
        switch options.verbosity {
        case .quiet: logger.threshold = .warning
        case .normal: logger.threshold = .info
        case .verbose: logger.threshold = .debug
        }
        let derived = options.derived
        // The command's bytes go to exec exactly as we received them.
        var raw: [UnsafeMutablePointer<CChar>] = []
        for index in 0..<options.command.count {
            raw.append(ProcessArguments.raw(1 + commandStart + index))
        }
        let command = PreparedCommand(arguments: options.command, raw: raw)
        do {
            let gate = try derived.gate.map { (settings) throws(SystemError) in try ALSAGate(settings: settings) }
            let hooks = ServiceIntegration.hooks(options: options, gate: gate, logger: logger)
            let loop = try SupervisionLoop(command: command, configuration: derived.table, gate: gate,
                                           quickExits: options.quickExitSettings, logger: logger, hooks: hooks)
            return loop.run()
        } catch {
            logger.log(.error, "internal error: \(error)")
            return ExitCode.software
        }
    }

    /// Indexes (into `arguments`, argv without argv[0]) of the words that are
    /// not valid UTF-8: `ProcessArguments.arguments` shows them repaired with U+FFFD.
    private static func undecodableArguments() -> Set<Int> {
        var indexes = Set<Int>()
        for index in stride(from: 1, to: ProcessArguments.count, by: 1)
        where String(validatingCString: ProcessArguments.raw(index)) == nil {
            indexes.insert(index - 1)
        }
        return indexes
    }

    static func writeStderr(_ text: String) { write(fd: 2, text) }
    static func writeStdout(_ text: String) { write(fd: 1, text) }

    private static func write(fd: Int32, _ text: String) {
        var copy = text
        copy.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = CLibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

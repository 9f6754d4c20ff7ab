import Foundation
import Glibc
import Testing
import Presentation
import Supervision

/// docs/troubleshooting.md explains every line monitord writes at warning or
/// error. These tests fail when one has no entry there:
///  - every LogRecord the renderer puts at warning or error, rendered with
///    sample values: a fixed fragment of its text must be in the page (and
///    in the rendered line, so the fragment cannot drift from the source);
///  - every other warning or error line, found as a string literal in the
///    sources (`log(.warning, "...")`, `log(.error, "...")`, and the gate's
///    diagnosis sentences, which the grace's end logs at warning): each
///    fixed piece of ten characters or more, between interpolations, must be
///    in the page;
///  - each STATUS= sentence (the status file's `summary=`) begins as the
///    page shows it.
@Suite struct TroubleshootingCoverageTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let page = (try? String(contentsOf: root.appendingPathComponent("docs/troubleshooting.md"), encoding: .utf8)) ?? ""

    static let configuration = SupervisionConfiguration(gate: GateTiming())
    static let renderer = LogRenderer(commandName: "squeezelite", commandLine: ["/usr/bin/squeezelite", "-o", "lb3c"],
                                      device: "lb3c", staleLeftover: "squeezelite -o lb3c", configuration: configuration)
    static let busy = ProbeFailure(stage: .open, errno: EBUSY)

    /// One sample of every LogRecord case.
    static let samples: [LogRecord] = [
        .started(pid: 812, restart: 3, quiet: false),
        .exited(pid: 812, status: .exited(1), runTime: .milliseconds(400), next: .after(.seconds(4), failure: 2)),
        .exited(pid: 812, status: .signaled(SIGKILL, coreDumped: false), runTime: .seconds(600), next: .now),
        .folded(status: .exited(1), count: 10, over: .seconds(300), next: .seconds(30)),
        .finishedCleanly(pid: 812, runTime: .seconds(5)),
        .spawnFailed(SpawnFailure(stage: .clone, errno: EAGAIN), next: .after(.seconds(2), failure: 1)),
        .cannotExecute(SpawnFailure(stage: .exec, errno: ENOENT)),
        .stopping(signal: SIGTERM, pid: 812),
        .stopWhileWaiting(signal: SIGTERM),
        .hurrying(signal: SIGINT, pid: 812),
        .killedAfterTimeout(pid: 812, timeout: .seconds(3)),
        .stopped(pid: 812, status: .exited(0)),
        .unkillable(pid: 812),
        .forwarded(signal: SIGHUP, pid: 812),
        .dropped(signal: SIGHUP),
        .deviceUnavailable(busy),
        .deviceUnavailableAfterGrace(busy, probes: 12, waited: .seconds(1)),
        .deviceStillUnavailable(busy, probes: 40, waited: .seconds(60)),
        .deviceReady(after: .milliseconds(173), probes: 2, warned: false),
        .staleSearch(failedProbes: 20),
    ]

    /// The case's index; no `default`, so a new LogRecord case does not
    /// compile until it is added here (and, with a sample, above).
    static func kind(_ record: LogRecord) -> Int {
        switch record {
        case .started: return 0
        case .exited: return 1
        case .folded: return 2
        case .finishedCleanly: return 3
        case .spawnFailed: return 4
        case .cannotExecute: return 5
        case .stopping: return 6
        case .stopWhileWaiting: return 7
        case .hurrying: return 8
        case .killedAfterTimeout: return 9
        case .stopped: return 10
        case .unkillable: return 11
        case .forwarded: return 12
        case .dropped: return 13
        case .deviceUnavailable: return 14
        case .deviceUnavailableAfterGrace: return 15
        case .deviceStillUnavailable: return 16
        case .deviceReady: return 17
        case .staleSearch: return 18
        }
    }

    /// The fixed words the page must quote for each record kind logged at
    /// warning or error.
    static let fragments: [Int: [String]] = [
        1: ["; restarting "],
        2: [" again (", "times in", "; restarting every"],
        4: ["cannot start squeezelite: fork:"],
        5: ["cannot execute '"],
        8: ["again: killing", "and its process group now"],
        9: ["did not stop within", ": sent SIGKILL to its process group"],
        11: ["did not exit after SIGKILL (stuck in the kernel?); exiting without it"],
        15: ["is not available (open: EBUSY", "; holding squeezelite back, probing at most every"],
        16: ["still unavailable after"],
    ]

    /// A plain Bool, so that a failure prints the fragment, not the page.
    static func explains(_ text: String) -> Bool { page.contains(text) }

    @Test func thePageExists() {
        #expect(!Self.page.isEmpty, "docs/troubleshooting.md is missing or empty")
    }

    @Test func everyLogRecordCaseHasASample() {
        #expect(Set(Self.samples.map(Self.kind)) == Set(0...18))
    }

    @Test(arguments: samples)
    func everyWarningOrErrorRecordIsExplained(record: LogRecord) {
        let level = Self.renderer.level(of: record)
        guard level <= .warning else { return }  // error (3) and warning (4) only
        let message = Self.renderer.message(record)
        guard let fragments = Self.fragments[Self.kind(record)] else {
            Issue.record("no troubleshooting fragment for a \(level) line: \(message)")
            return
        }
        for fragment in fragments {
            #expect(message.contains(fragment), "the line no longer says '\(fragment)': \(message)")
            #expect(Self.explains(fragment), "docs/troubleshooting.md does not explain: \(message) (missing '\(fragment)')")
        }
    }

    @Test func everyOtherWarningOrErrorLineIsExplained() throws {
        let files = try Self.swiftSources()
        var checked = 0
        for file in files {
            let source = try String(contentsOfFile: file, encoding: .utf8)
            let literals: [[String]]
            if file.hasSuffix("/GateDiagnosis.swift") {
                literals = SwiftLiterals.all(in: source)
            } else {
                literals = ["log(.warning, ", "log(.error, "].flatMap { SwiftLiterals.after($0, in: source) }
            }
            for pieces in literals {
                for piece in pieces.map({ $0.trimmingCharacters(in: .whitespaces) }) where piece.count >= 10 {
                    checked += 1
                    #expect(Self.explains(piece),
                            "docs/troubleshooting.md lacks '\(piece)' (\((file as NSString).lastPathComponent))")
                }
            }
        }
        #expect(checked >= 20, "only \(checked) fixed pieces found: has the scan stopped finding the log calls?")
    }

    @Test func everyStatusSentenceIsShown() {
        // The start of each STATUS= sentence, as StatusReport words it.
        for start in ["starting squeezelite", "running squeezelite (pid", "restarting in", "probing lb3c",
                      "waiting for lb3c:", "stopping squeezelite (pid", "`stopped`"] {
            #expect(Self.explains(start), "docs/troubleshooting.md does not show the status '\(start)'")
        }
    }

    static func swiftSources() throws -> [String] {
        let sources = root.appendingPathComponent("Sources").path
        guard let walker = FileManager.default.enumerator(atPath: sources) else { return [] }
        return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.map { sources + "/" + $0 }.sorted()
    }
}

/// Swift string literals, read well enough for log lines: each literal as
/// its fixed pieces (the text between `\(...)` interpolations).
enum SwiftLiterals {
    /// The literal that starts right after each occurrence of `prefix`.
    static func after(_ prefix: String, in source: String) -> [[String]] {
        let text = Array(source.unicodeScalars)
        let marker = Array(prefix.unicodeScalars)
        var found: [[String]] = []
        var index = 0
        while index + marker.count < text.count {
            if Array(text[index..<index + marker.count]) == marker, text[index + marker.count] == "\"" {
                let (_, pieces) = literal(text, at: index + marker.count)
                found.append(pieces)
            }
            index += 1
        }
        return found
    }

    /// Every literal in the source, outside comments.
    static func all(in source: String) -> [[String]] {
        let text = Array(source.unicodeScalars)
        var found: [[String]] = []
        var index = 0
        while index < text.count {
            if text[index] == "/", index + 1 < text.count, text[index + 1] == "/" {
                while index < text.count && text[index] != "\n" { index += 1 }
            } else if text[index] == "\"" {
                let (end, pieces) = literal(text, at: index)
                found.append(pieces)
                index = end
            } else {
                index += 1
            }
        }
        return found
    }

    /// Reads the literal whose opening quote is at `start`: the index after
    /// its closing quote, and its fixed pieces.
    static func literal(_ text: [Unicode.Scalar], at start: Int) -> (Int, [String]) {
        var index = start + 1
        var pieces = [""]
        while index < text.count {
            let scalar = text[index]
            if scalar == "\\", index + 1 < text.count {
                if text[index + 1] == "(" {
                    index = skipExpression(text, from: index + 2)
                    pieces.append("")
                } else {
                    pieces[pieces.count - 1].unicodeScalars.append(text[index + 1])
                    index += 2
                }
                continue
            }
            if scalar == "\"" { return (index + 1, pieces) }
            pieces[pieces.count - 1].unicodeScalars.append(scalar)
            index += 1
        }
        return (index, pieces)
    }

    /// Skips an interpolated expression (nested parentheses and literals).
    static func skipExpression(_ text: [Unicode.Scalar], from start: Int) -> Int {
        var depth = 1
        var index = start
        while index < text.count {
            switch text[index] {
            case "\"": index = literal(text, at: index).0; continue
            case "(": depth += 1
            case ")":
                depth -= 1
                if depth == 0 { return index + 1 }
            default: break
            }
            index += 1
        }
        return index
    }
}

import Foundation
import Supervision
import Testing
import TestSupport
@testable import Presentation
@testable import Reactor

/// `OptionTable` is the one list of options; `man monitord` is the option
/// reference and `monitord --help` its short form. Both must name exactly the
/// table's options, each with the table's `(default X, limit)` and none where
/// the table has no default; and each default the table prints must be what
/// the parser does when the option is not given. An option added, renamed or
/// dropped, or a default changed, in one place fails here until all agree.
@Suite struct OptionReferenceTests {
    /// Every spelling the table (and so the parser) accepts.
    static let tableNames: Set<String> = Set(OptionTable.entries.flatMap { entry in
        [entry.long] + (entry.short.map { ["-" + String($0)] } ?? [])
    })

    @Test func theTableCoversEveryLongOptionAndTheShortForms() {
        #expect(OptionTable.entries.map(\.name) == OptionName.allCases)
        #expect(Self.tableNames.isSuperset(of: ["-h", "-q", "-v", "--stop-timeout"]))
        #expect(OptionTable.option(short: "q") == .quiet && OptionTable.option(short: "x") == nil)
    }

    @Test func helpNamesExactlyTheTablesOptions() throws {
        #expect(Set(try Self.helpEntries().keys) == Self.tableNames)
    }

    @Test func manPageNamesExactlyTheTablesOptions() throws {
        #expect(Set(try Self.manPageEntries().keys) == Self.tableNames)
    }

    @Test func helpGivesEachOptionTheTablesDefaultAndLimit() throws {
        let help = try Self.helpEntries()
        for entry in OptionTable.entries {
            #expect(Self.defaultNote(in: help[entry.long] ?? "") == Self.expectedNote(entry), "--help on \(entry.long)")
        }
    }

    @Test func manPageGivesEachOptionTheTablesDefaultAndLimit() throws {
        let page = try Self.manPageEntries()
        for entry in OptionTable.entries {
            #expect(Self.defaultNote(in: page[entry.long] ?? "") == Self.expectedNote(entry), "man page on \(entry.long)")
        }
    }

    /// Giving an option its printed default changes nothing the run is
    /// configured with (a gated command, so the gate's values count too).
    @Test func eachPrintedDefaultIsWhatTheParserUsesWithoutTheOption() throws {
        let command = ["squeezelite", "-o", "lb0c"]
        let plain = try Self.derived(command)
        var checked = 0
        for entry in OptionTable.entries {
            guard let value = entry.defaultValue else { continue }
            let given = try Self.derived([entry.long, value] + command)
            #expect(given.table == plain.table, "\(entry.long) \(value)")
            #expect(given.gate == plain.gate, "\(entry.long) \(value)")
            checked += 1
        }
        #expect(checked == 15)
        #expect(Options().stopTimeout == SupervisionConfiguration().stopTimeout)
    }

    /// Each limit the table prints is where the parser starts refusing.
    @Test func eachPrintedLimitIsWhereTheParserRefuses() {
        for entry in OptionTable.entries {
            let refused: String, accepted: String
            switch entry.limit {
            case .none: continue
            case .positive: (refused, accepted) = ("0", "1ms")
            case .atLeast(let least):
                (refused, accepted) = ((least - .nanoseconds(1)).commandLineText, least.commandLineText)
            case .range(let range): (refused, accepted) = ("\(range.upperBound + 1)", "\(range.upperBound)")
            }
            // --probe-retry is also bounded by the interval: give one that allows any retry.
            let room = entry.name == .probeRetry ? ["--probe-interval", "1m"] : []
            #expect(throws: UsageError.self, "\(entry.long) \(refused)") {
                try OptionParser.parse(room + [entry.long, refused, "squeezelite", "-o", "lb0c"])
            }
            #expect(throws: Never.self, "\(entry.long) \(accepted)") {
                try OptionParser.parse(room + [entry.long, accepted, "squeezelite", "-o", "lb0c"])
            }
        }
    }

    @Test func commandLineTextReadsBackAsTheSameDuration() throws {
        for duration: Duration in [.zero, .nanoseconds(7), .microseconds(250), .milliseconds(50), .milliseconds(1500),
                                   .seconds(3), .seconds(90), .seconds(120), .seconds(7200), .seconds(24 * 3600)] {
            #expect(try DurationParser.parse(duration.commandLineText) == duration, "\(duration.commandLineText)")
        }
        #expect(Duration.milliseconds(50).commandLineText == "50ms" && Duration.seconds(30).commandLineText == "30s")
    }

    static func derived(_ arguments: [String]) throws -> DerivedConfiguration {
        guard case .run(let options) = try OptionParser.parse(arguments) else {
            Issue.record("\(arguments) is not a run")
            return Options().derived
        }
        return options.derived
    }

    /// The note the table's entry must carry: `(default 3s)`, or nil when it
    /// has no default.
    static func expectedNote(_ entry: OptionEntry) -> String? {
        entry.defaultValue == nil ? nil : entry.defaultAndLimit
    }

    /// The `(default ...)` parenthesis of an option's text, nil when none.
    static func defaultNote(in text: String) -> String? {
        guard let start = text.range(of: "(default ") else { return nil }
        guard let end = text[start.lowerBound...].firstIndex(of: ")") else { return String(text[start.lowerBound...]) }
        return String(text[start.lowerBound...end])
    }

    /// The options --help defines, each with its text: an indented line that
    /// starts with its names and at most one value word (`-q, --quiet`,
    /// `--alsa-gate auto|off`, `    --version`) before the description, and
    /// the lines indented to the description column after it. An example
    /// command line (more words) defines nothing.
    static func helpEntries() throws -> [String: String] {
        let run = try runCapturing([Products.monitord, "--help"])
        #expect(run.ended == .exited(0))
        var entries: [String: String] = [:]
        var current: [String] = []
        for line in run.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            let text = line.drop { $0 == " " }
            let label = text.range(of: "  ").map { text[..<$0.lowerBound] } ?? text
            let words = label.split(separator: " ")
            let names = words.prefix { $0.hasPrefix("-") && $0.count > 1 }.map { $0.hasSuffix(",") ? String($0.dropLast()) : String($0) }
            if line.hasPrefix("  "), !names.isEmpty, words.count - names.count <= 1 {
                current = names
                for name in names { entries[name] = String(line) }
            } else if line.hasPrefix(String(repeating: " ", count: 20)) {
                for name in current { entries[name, default: ""] += " " + line.trimmingCharacters(in: .whitespaces) }
            } else {
                current = []
            }
        }
        return entries
    }

    /// The options the man page's OPTIONS section defines, each with its
    /// text: the option words on the tag line after each `.TP` (`.BI \-\-stop\-timeout " DUR"`,
    /// `.BR \-q ", " \-\-quiet`) and the paragraph up to the next request
    /// that ends it, with roff's `\-` and font changes taken out.
    static func manPageEntries() throws -> [String: String] {
        let page = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("contrib/man/monitord.1")
        let lines = try String(contentsOf: page, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.replacingOccurrences(of: "\\-", with: "-") }
        var entries: [String: String] = [:]
        guard let start = lines.firstIndex(of: ".SH OPTIONS") else {
            Issue.record("the man page has no OPTIONS section")
            return [:]
        }
        let end = lines[(start + 1)...].firstIndex { $0.hasPrefix(".SH") } ?? lines.count
        for index in start..<end where lines[index] == ".TP" && index + 1 < end {
            let tag = lines[index + 1]
            guard tag.hasPrefix(".B") else { continue }
            var names: [String] = []
            for word in tag.split(whereSeparator: { " \"|".contains($0) }) {
                let name = word.trimmingCharacters(in: CharacterSet(charactersIn: ","))
                if name.hasPrefix("-"), name.count > 1, name.dropFirst().allSatisfy({ $0.isLetter || $0 == "-" }) {
                    names.append(name)
                }
            }
            var body: [String] = []
            for next in lines[(index + 2)...] {
                if [".TP", ".PP", ".SS", ".SH", ".IP"].contains(where: { next.hasPrefix($0) }) { break }
                body.append(next.replacingOccurrences(of: "\\fB", with: "").replacingOccurrences(of: "\\fR", with: "")
                    .replacingOccurrences(of: "\\fI", with: ""))
            }
            for name in names { entries[name] = body.joined(separator: " ") }
        }
        return entries
    }
}

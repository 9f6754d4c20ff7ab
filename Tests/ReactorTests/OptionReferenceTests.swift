import Foundation
import Testing
import TestSupport
@testable import Reactor

/// `man monitord` is the option reference and `monitord --help` its short
/// form: both must name exactly the options the parser accepts, so an option
/// added, renamed or dropped in one place fails here until all three agree.
@Suite struct OptionReferenceTests {
    static let parsed: Set<String> = Set(OptionParser.LongOption.allCases.map { "--" + $0.rawValue } + ["-h", "-q", "-v"])

    @Test func helpNamesExactlyTheParsersOptions() throws {
        #expect(try Self.helpOptions() == Self.parsed)
    }

    @Test func manPageNamesExactlyTheParsersOptions() throws {
        #expect(try Self.manPageOptions() == Self.parsed)
    }

    /// The options --help defines: the words of an indented line that starts
    /// with a dash, up to the first one that is not an option (`-q, --quiet`,
    /// `--alsa-gate auto|off`, `    --version`).
    static func helpOptions() throws -> Set<String> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Products.monitord)
        process.arguments = ["--help"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        var names: Set<String> = []
        for line in output.split(separator: "\n") where line.hasPrefix("  ") {
            for word in line.split(separator: " ") {
                let name = word.hasSuffix(",") ? word.dropLast() : word[...]
                guard name.hasPrefix("-"), name.count > 1 else { break }
                names.insert(String(name))
            }
        }
        return names
    }

    /// The options the man page defines: the option words on the tag line
    /// after each `.TP` (`.BI \-\-stop\-timeout " DUR"`, `.BR \-q ", " \-\-quiet`).
    static func manPageOptions() throws -> Set<String> {
        let page = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("contrib/man/monitord.1")
        let lines = try String(contentsOf: page, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        var names: Set<String> = []
        for (index, line) in lines.enumerated() where line == ".TP" && index + 1 < lines.count {
            let tag = lines[index + 1].replacingOccurrences(of: "\\-", with: "-")
            guard tag.hasPrefix(".B") else { continue }
            for word in tag.split(whereSeparator: { " \"|".contains($0) }) {
                let name = word.trimmingCharacters(in: CharacterSet(charactersIn: ","))
                if name.hasPrefix("-"), name.count > 1, name.dropFirst().allSatisfy({ $0.isLetter || $0 == "-" }) {
                    names.insert(name)
                }
            }
        }
        return names
    }
}

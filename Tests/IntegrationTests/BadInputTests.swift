import CKernelShim
import Foundation
import Glibc
import Testing
import TestSupport

/// Bad command lines against the real binary: every option that takes a
/// value, with every kind of bad value, must end in exit 64 with exactly one
/// line on stderr naming the option; never a trap, never exit 0, and never a
/// started child (monitord starts nothing before parsing succeeds, so the
/// COMMAND, which would leave a marker file, must not have run).
@Suite struct BadInputTests {
    typealias Word = [UInt8]

    static let durationOptions = ["--backoff-initial", "--backoff-max", "--backoff-reset", "--stop-timeout",
                                  "--probe-duration", "--probe-retry", "--probe-interval"]
    static let integerOptions = ["--probe-rate", "--probe-channels", "--stale-after", "--stale-after-exits"]
    static let textOptions = ["--alsa-device", "--snd-dir", "--status-file", "--stale-match"]
    static let valueOptions = durationOptions + integerOptions + ["--alsa-gate", "--restart"] + textOptions

    /// Values no option accepts.
    static let badEverywhere: [(String, Word)] = [
        ("empty", []),
        ("non-UTF-8", [0xff, 0xfe, 0x31]),
        ("non-UTF-8 digits", Array("2".utf8) + [0xc3, 0x28]),
    ]

    /// Values the parsed options (durations, integers, auto|off) refuse.
    static let badParsed: [(String, Word)] = [
        ("huge", Array("1000000000000000000000000000000".utf8)),
        ("huge with unit", Array("1000000000000000000000000000000ms".utf8)),
        ("negative", Array("-1".utf8)),
        ("negative duration", Array("-5s".utf8)),
        ("overflowing UInt64", Array("18446744073709551616".utf8)),
        ("overflowing UInt32", Array("4294967296".utf8)),
        ("overflowing in hours", Array("18446744073709551615h".utf8)),
        ("garbage", Array("banana".utf8)),
        ("newline", Array("2s\nmonitord: fake second line".utf8)),
        ("control bytes", [0x1b, 0x5b, 0x32, 0x4a, 0x07]),
        ("fraction", Array("1.5.2".utf8)),
        ("bare number after a unit", Array("1h30".utf8)),
        ("space", Array(" 2".utf8)),
        ("long garbage", Array(String(repeating: "x", count: 100_000).utf8)),
    ]

    static var cases: [(option: String, label: String, value: Word)] {
        var out: [(String, String, Word)] = []
        for option in valueOptions {
            for (label, value) in badEverywhere { out.append((option, label, value)) }
            if textOptions.contains(option) { continue }
            for (label, value) in badParsed { out.append((option, label, value)) }
            if durationOptions.contains(option) {
                out += [(option, "over a day", Array("86401".utf8)), (option, "a day and a nanosecond", Array("24h1ns".utf8))]
            }
            if integerOptions.contains(option) {
                out += [(option, "zero", Array("0".utf8)), (option, "fraction", Array("2.5".utf8)), (option, "unit", Array("2s".utf8))]
            }
        }
        return out
    }

    /// Runs monitord with raw argv words, a marker-writing COMMAND appended.
    static func expectUsageError(_ words: [Word], naming option: String?, _ comment: String,
                                 sourceLocation: SourceLocation = #_sourceLocation) throws {
        let scratch = Scratch()
        let marker = scratch.file("started")
        let script = scratch.script("child", "touch '\(marker)'")
        let (ended, stderr) = try runRaw(words + [Array(script.utf8)], scratch: scratch)
        #expect(ended == .exited(64), "\(comment): \(ended.map { "\($0)" } ?? "timeout")", sourceLocation: sourceLocation)
        let lines = stderr.split(separator: 0x0a, omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "\(comment): not exactly one line: \(String(decoding: stderr, as: UTF8.self).debugDescription)",
                sourceLocation: sourceLocation)
        let line = String(decoding: lines[0], as: UTF8.self)
        #expect(line.hasPrefix("monitord: "), "\(comment): \(line.debugDescription)", sourceLocation: sourceLocation)
        #expect(line.utf8.count < 400, "\(comment): \(line.utf8.count) bytes", sourceLocation: sourceLocation)
        #expect(!lines[0].contains { $0 < 0x20 || $0 == 0x7f }, "\(comment): control byte in \(line.debugDescription)",
                sourceLocation: sourceLocation)
        if let option {
            #expect(line.contains(option), "\(comment): \(line.debugDescription) does not name \(option)", sourceLocation: sourceLocation)
        }
        #expect(access(marker, F_OK) != 0, "\(comment): the command was started", sourceLocation: sourceLocation)
    }

    @Test func everyValueOptionRefusesEveryBadValue() throws {
        for (option, label, value) in Self.cases {
            // As a separate word and as an inline `--opt=value`.
            try Self.expectUsageError([Array(option.utf8), value], naming: option, "\(option) \(label)")
            try Self.expectUsageError([Array((option + "=").utf8) + value], naming: option, "\(option)= \(label)")
        }
    }

    @Test(arguments: valueOptions)
    func optionMissingItsValueAtTheEnd(option: String) throws {
        let scratch = Scratch()
        let (ended, stderr) = try runRaw([Array(option.utf8)], scratch: scratch)
        #expect(ended == .exited(64))
        let text = String(decoding: stderr, as: UTF8.self)
        #expect(text == "monitord: option '\(option)' needs a value\n")
    }

    @Test func unknownOptionsAndBadFlags() throws {
        let unknown: [([Word], String)] = [
            ([Array("--frobnicate".utf8)], "--frobnicate"),
            ([Array("--frobnicate=1".utf8)], "--frobnicate"),
            ([Array("--backoff".utf8), Array("1s".utf8)], "--backoff"),
            ([Array("--Backoff-Max".utf8), Array("1s".utf8)], "--Backoff-Max"),
            ([Array("-z".utf8)], "-z"),
            ([Array("-qz".utf8)], "-z"),
            ([Array("-o".utf8), Array("lb0c".utf8)], "-o"),
            ([Array("--bad\nname".utf8)], "--bad?name"),
            ([Array("--".utf8) + [0xff, 0xfe]], "--??"),
            ([Array("--".utf8) + Array(String(repeating: "y", count: 100_000).utf8)], "--yyyy"),
            ([Array("--quiet=1".utf8)], "--quiet"),
            ([Array("--help=yes".utf8)], "--help"),
            ([Array("--version=".utf8)], "--version"),
        ]
        for (words, named) in unknown {
            try Self.expectUsageError(words, naming: named, "\(words.map { String(decoding: $0, as: UTF8.self) })")
        }
    }

    @Test func contradictionsNameBothOptions() throws {
        try Self.expectUsageError([Array("--backoff-initial=5s".utf8), Array("--backoff-max=1s".utf8)],
                                  naming: "--backoff-initial", "initial > max")
        try Self.expectUsageError([Array("--alsa-gate=off".utf8), Array("--alsa-device=lb0c".utf8)],
                                  naming: "--alsa-device", "device with gate off")
        try Self.expectUsageError([Array("--probe-duration=0".utf8)], naming: "--probe-duration", "zero probe")
        try Self.expectUsageError([Array("--stale-after-exits=0".utf8)], naming: "--stale-after-exits", "no exits")
        try Self.expectUsageError([Array("--stale-after-exits".utf8), Array("three".utf8)],
                                  naming: "--stale-after-exits", "exits not a number")
        try Self.expectUsageError([Array("--alsa-device=ch2".utf8), Array("--stale-match=".utf8)],
                                  naming: "--stale-match", "empty stale match")
        try Self.expectUsageError([Array("--probe-retry=5s".utf8), Array("--probe-interval=1s".utf8)],
                                  naming: "--probe-retry", "retry > interval")
    }

    @Test func anEmptyOrMissingCommandIsAUsageError() throws {
        let scratch = Scratch()
        for words: [Word] in [[], [[]], [Array("--".utf8)], [Array("--".utf8), []], [Array("-q".utf8), Array("--".utf8), [], Array("x".utf8)]] {
            let (ended, stderr) = try runRaw(words, scratch: scratch)
            let text = String(decoding: stderr, as: UTF8.self)
            #expect(ended == .exited(64), "\(words): \(ended.map { "\($0)" } ?? "timeout")")
            #expect(text.hasPrefix("monitord: ") && text.contains("COMMAND") && text.filter { $0 == "\n" }.count == 1,
                    "\(words): \(text.debugDescription)")
        }
    }

    @Test func aNonUTF8CommandIsPassedToExecUntouched() throws {
        // Not an option value: COMMAND's bytes go to exec as they are.
        let scratch = Scratch()
        let name = Array(scratch.file("child-").utf8) + [0xff]
        let marker = scratch.file("ran")
        let fd = open(name.map { CChar(bitPattern: $0) } + [0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        try #require(fd >= 0)
        let body = Array("#!/bin/sh\ntouch '\(marker)'\n".utf8)
        #expect(write(fd, body, body.count) == body.count)
        close(fd)
        let (ended, _) = try runRaw([Array("--alsa-gate=off".utf8), name], scratch: scratch)
        #expect(ended == .exited(0))
        #expect(access(marker, F_OK) == 0)
    }
}

/// Runs monitord with raw argv bytes (Strings cannot hold invalid UTF-8).
/// Returns how it ended and its stderr.
func runRaw(_ words: [[UInt8]], scratch: Scratch, timeout: Duration = .seconds(20)) throws -> (Ended?, [UInt8]) {
    let errPath = scratch.file("raw-\(UInt32.random(in: 0...UInt32.max)).err")
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "JOURNAL_STREAM")
    environment.removeValue(forKey: "NOTIFY_SOCKET")
    let pid = try spawnProcess(raw: [Array(Products.monitord.utf8)] + words, environment: environment,
                               stdout: "/dev/null", stderr: errPath)
    let ended = waitForExit(pid, timeout: timeout)
    return (ended, FileManager.default.contents(atPath: errPath).map { Array($0) } ?? [])
}

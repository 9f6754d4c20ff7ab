import Foundation
import Glibc
import Testing
import Presentation
import Reactor

/// The stale rule in force, settled once at start-up from the options:
/// `--stale-match`, the `-o` device, the script an interpreter runs, and
/// COMMAND resolved through PATH and symbolic links.
@Suite struct StaleRuleInForceTests {
    static func settings(_ command: [String], _ extra: [String]) throws -> GateSettings {
        guard case .run(let options) = try OptionParser.parse(extra + ["--"] + command) else {
            throw CancellationError()
        }
        return try #require(options.derived.gate)
    }

    /// The two examples of --help and the man page.
    @Test func theDocumentedExamples() throws {
        let shairport = StaleRuleInForce(
            try Self.settings(["shairport-sync", "-c", StaleMatchRuleTests.shairportConf], ["--alsa-device", "lb2c", "--stale-match", StaleMatchRuleTests.shairportConf]),
            resolve: { $0 == "shairport-sync" ? "/usr/bin/shairport-sync" : nil }, isRegularFile: { _ in true })
        #expect(shairport.endsLeftovers)
        #expect(shairport.rule(uid: 1000, excluded: []) == StaleMatchRuleTests.shairport)
        #expect(shairport.addedScript == nil, "named by --stale-match already")
        #expect(shairport.leftover == "shairport-sync with \(StaleMatchRuleTests.shairportConf)")

        let radio = StaleRuleInForce(
            try Self.settings(["python3", StaleMatchRuleTests.runvlc, "URL", "ch2"], ["--alsa-device", "ch2", "--stale-match", StaleMatchRuleTests.runvlc, "--stale-match", "ch2"]),
            resolve: { $0 == "python3" ? "/usr/bin/python3.11" : nil }, isRegularFile: { $0 == StaleMatchRuleTests.runvlc })
        #expect(radio.rule(uid: 1000, excluded: []) == StaleMatchRuleTests.radio)
        #expect(radio.announcement == "stale rule for ch2: a leftover is python3 (/usr/bin/python3.11) whose arguments include '\(StaleMatchRuleTests.runvlc)', 'ch2', run by the same user and not started by monitord")
    }

    /// `--stale-match ch2` alone: the script is added, so another python3
    /// script playing to ch2 is never taken for this one.
    @Test func theInterpretersScriptIsAlwaysPartOfTheIdentity() throws {
        let settings = try Self.settings(["python3", "-u", StaleMatchRuleTests.runvlc, "URL", "ch2"], ["--alsa-device", "ch2", "--stale-match", "ch2"])
        #expect(settings.scriptCandidate == StaleMatchRuleTests.runvlc)
        let inForce = StaleRuleInForce(settings, resolve: { _ in "/usr/bin/python3.11" }, isRegularFile: { $0 == StaleMatchRuleTests.runvlc })
        #expect(inForce.arguments == ["ch2", StaleMatchRuleTests.runvlc])
        #expect(inForce.addedScript == StaleMatchRuleTests.runvlc)
        #expect(inForce.announcement.hasSuffix("; the script \(StaleMatchRuleTests.runvlc) is part of it because COMMAND runs it"))
        let rule = inForce.rule(uid: 1000, excluded: [])
        #expect(!StalePlayers.matches(commandLine: ["python3", "/home/pi/amplipi-dev/streams/fmradio.py", "ch2"],
                                      executable: "/usr/bin/python3.11", uid: 1000, state: "S", rule: rule))
        #expect(StalePlayers.matches(commandLine: ["python3", "-u", StaleMatchRuleTests.runvlc, "URL", "ch2"],
                                     executable: "/usr/bin/python3.11", uid: 1000, state: "S", rule: rule))

        // A first non-option word that is no file (a URL, a zone name) adds nothing.
        let url = StaleRuleInForce(try Self.settings(["cvlc", "http://radio/stream", "--alsa-audio-device", "ch0"],
                                                     ["--alsa-device", "ch0", "--stale-match", "ch0"]),
                                   resolve: { _ in "/usr/bin/vlc" }, isRegularFile: { _ in false })
        #expect(url.arguments == ["ch0"] && url.addedScript == nil)
        #expect(!url.announcement.contains("script"))
    }

    /// Without --stale-match the identity is the command's name and its last
    /// `-o`; a script COMMAND runs is part of it too.
    @Test func withoutStaleMatchTheIdentityIsTheOutputDevice() throws {
        let plain = StaleRuleInForce(try Self.settings(["squeezelite", "-n", "Zone", "-o", "lb3c"], []),
                                     resolve: { _ in "/usr/bin/squeezelite" }, isRegularFile: { _ in false })
        #expect(plain.rule(uid: 7, excluded: [1]) == StalePlayerRule(baseName: "squeezelite", executable: "/usr/bin/squeezelite",
                                                                     device: "lb3c", uid: 7, excluded: [1]))
        #expect(plain.leftover == "squeezelite -o lb3c")
        #expect(plain.announcement == "stale rule for lb3c: a leftover is squeezelite (/usr/bin/squeezelite) with -o lb3c, run by the same user and not started by monitord")
        let script = StaleRuleInForce(try Self.settings(["python3", "/srv/player.py", "-o", "lb3c"], []),
                                      resolve: { _ in nil }, isRegularFile: { $0 == "/srv/player.py" })
        #expect(script.device == "lb3c" && script.arguments == ["/srv/player.py"])
        #expect(script.leftover == "python3 -o lb3c with /srv/player.py")
    }

    /// `--alsa-device` without `--stale-match`: nothing is ended, and the
    /// one line says so. Nothing is resolved either.
    @Test func noStaleMatchEndsNothing() throws {
        let inForce = StaleRuleInForce(try Self.settings(["squeezelite", "-o", "lb3c"], ["--alsa-device", "lb3c"]),
                                       resolve: { _ in Issue.record("resolved"); return nil }, isRegularFile: { _ in true })
        #expect(!inForce.endsLeftovers)
        #expect(inForce.announcement == "no --stale-match: holders are named, not ended")
        #expect(inForce.arguments.isEmpty && inForce.device == nil)
        #expect(!StalePlayers.matches(commandLine: ["squeezelite", "-o", "lb3c"], executable: "/usr/bin/squeezelite",
                                      uid: 1000, state: "S", rule: inForce.rule(uid: 1000, excluded: [])))
    }

    @Test func aRepeatedARGCountsOnce() throws {
        let inForce = StaleRuleInForce(try Self.settings(["aplay", "-D", "ch1", "x.wav"], ["--alsa-device", "ch1", "--stale-match", "ch1", "--stale-match", "ch1"]),
                                       resolve: { _ in "/usr/bin/aplay" }, isRegularFile: { _ in false })
        #expect(inForce.arguments == ["ch1"])
    }

    @Test(arguments: [
        (["python3", "/srv/a.py", "x"], "/srv/a.py"),
        (["python3", "-u", "-W", "/srv/a.py"], "/srv/a.py"),
        (["python3", "--", "-weird.py", "x"], "-weird.py"),
        (["python3", "-u"], nil),
        (["python3", "--"], nil),
        (["python3", "--", "", "x.py"], nil),
        (["python3", "", "x.py"], nil),
        (["python3"], nil),
        (["bash", "-", "x"], "-"),
        (["shairport-sync", "-c", "/etc/s.conf"], "/etc/s.conf"),
    ] as [([String], String?)])
    func scriptCandidate(command: [String], expected: String?) {
        #expect(InterpreterScript.candidate(in: command) == expected)
    }

    // MARK: Resolving COMMAND

    /// PATH order, a non-executable file skipped, symbolic links resolved (as
    /// /proc/PID/exe shows them), a path used as given.
    @Test func commandResolvesThroughPathAndSymlinks() throws {
        let root = ALSATestRig.makeDirectory("resolve")
        let fm = FileManager.default
        defer { try? fm.removeItem(at: root) }
        for directory in ["first", "second", "real"] {
            try fm.createDirectory(at: root.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        let real = root.appendingPathComponent("real/tool3.11").path
        try "#!/bin/sh\n".write(toFile: real, atomically: true, encoding: .utf8)
        chmod(real, 0o755)
        // Not executable: execvp would skip it, and so must the lookup.
        try "x".write(toFile: root.appendingPathComponent("first/tool").path, atomically: true, encoding: .utf8)
        chmod(root.appendingPathComponent("first/tool").path, 0o644)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("second/tool").path, withDestinationPath: "../real/tool3.11")
        let resolvedReal = try #require(realpath(real, nil))
        let canonical = String(cString: resolvedReal)
        free(resolvedReal)
        let path = root.appendingPathComponent("first").path + ":" + root.appendingPathComponent("second").path
        #expect(ExecutableLookup.resolve("tool", searchPath: path) == canonical)
        #expect(ExecutableLookup.resolve(root.appendingPathComponent("second/tool").path, searchPath: nil) == canonical)
        #expect(ExecutableLookup.resolve("tool", searchPath: root.appendingPathComponent("first").path) == nil)
        #expect(ExecutableLookup.resolve("missing", searchPath: path) == nil)
        #expect(ExecutableLookup.resolve("", searchPath: path) == nil)
        // The directory is no script, the file is.
        #expect(ExecutableLookup.isRegularFile(real))
        #expect(!ExecutableLookup.isRegularFile(root.path))
        #expect(!ExecutableLookup.isRegularFile(root.appendingPathComponent("nothing").path))
    }

    /// On this machine: Debian's python3 is a symlink to python3.N.
    @Test(.enabled(if: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/usr/bin/python3")) != nil))
    func python3ResolvesToItsVersionedBinary() throws {
        let resolved = try #require(ExecutableLookup.resolve("python3", searchPath: "/usr/bin"))
        #expect(resolved.hasPrefix("/usr/bin/python3."), "\(resolved)")
    }
}

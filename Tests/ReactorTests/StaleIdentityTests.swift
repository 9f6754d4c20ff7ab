import Foundation
import Glibc
import Testing
import Reactor

/// The `--stale-match` identity: whole argv elements, in any order, on the
/// executable COMMAND resolves to; and the interpreter's script that is
/// always part of it. The pure rule, then how it is settled at start-up.
@Suite struct StaleIdentityTests {
    static let shairportConf = "/home/pi/.config/amplipi/srcs/v2/shairport.conf"
    static let runvlc = "/home/pi/amplipi-dev/streams/runvlc.py"

    /// The two examples of --help and the man page (AirPlay, internet
    /// radio), as StaleRuleInForce builds them.
    static let shairport = StalePlayerRule(baseName: "shairport-sync", executable: "/usr/bin/shairport-sync", device: nil,
                                           arguments: [shairportConf], uid: 1000, excluded: [])
    static let radio = StalePlayerRule(baseName: "python3", executable: "/usr/bin/python3.11", device: nil,
                                       arguments: [runvlc, "ch2"], uid: 1000, excluded: [])

    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var rule: StalePlayerRule
        var commandLine: [String]
        var executable: String?
        var uid: UInt32 = 1000
        var state: Character? = "S"
        var expected: Bool
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        // shairport-sync: the configuration file is the identity.
        Case(label: "config file as an element", rule: shairport,
             commandLine: ["shairport-sync", "-c", shairportConf], executable: "/usr/bin/shairport-sync", expected: true),
        Case(label: "config file anywhere after argv[0]", rule: shairport,
             commandLine: ["/usr/bin/shairport-sync", "-v", "-c", shairportConf, "--", "-d", "x"], executable: "/usr/bin/shairport-sync", expected: true),
        Case(label: "another zone's config file", rule: shairport,
             commandLine: ["shairport-sync", "-c", "/home/pi/.config/amplipi/srcs/v3/shairport.conf"], executable: "/usr/bin/shairport-sync", expected: false),
        Case(label: "ARG is a prefix of the element", rule: shairport,
             commandLine: ["shairport-sync", "-c", shairportConf + ".bak"], executable: "/usr/bin/shairport-sync", expected: false),
        Case(label: "ARG is a suffix of the element", rule: shairport,
             commandLine: ["shairport-sync", "--config=" + shairportConf], executable: "/usr/bin/shairport-sync", expected: false),
        Case(label: "ARG only in argv[0]", rule: shairport,
             commandLine: [shairportConf, "-c", "x"], executable: "/usr/bin/shairport-sync", expected: false),
        Case(label: "same config, other program", rule: shairport,
             commandLine: ["gmediarender", "-c", shairportConf], executable: "/usr/bin/gmediarender", expected: false),
        Case(label: "argv[0] spoofed, exe differs", rule: shairport,
             commandLine: ["shairport-sync", "-c", shairportConf], executable: "/usr/bin/dash", expected: false),
        Case(label: "binary replaced on disk", rule: shairport,
             commandLine: ["shairport-sync", "-c", shairportConf], executable: "/usr/bin/shairport-sync (deleted)", expected: true),
        Case(label: "other user", rule: shairport,
             commandLine: ["shairport-sync", "-c", shairportConf], executable: "/usr/bin/shairport-sync", uid: 0, expected: false),
        Case(label: "zombie", rule: shairport,
             commandLine: ["shairport-sync", "-c", shairportConf], executable: "/usr/bin/shairport-sync", state: "Z", expected: false),
        Case(label: "kernel thread", rule: shairport, commandLine: [], executable: nil, expected: false),

        // python3 through Debian's symlink, told apart by its script.
        Case(label: "python3 -> python3.11, script and device", rule: radio,
             commandLine: ["python3", runvlc, "http://radio/stream", "ch2"], executable: "/usr/bin/python3.11", expected: true),
        Case(label: "order does not matter", rule: radio,
             commandLine: ["python3", "-u", "ch2", "--", runvlc], executable: "/usr/bin/python3.11", expected: true),
        Case(label: "started by its real name", rule: radio,
             commandLine: ["/usr/bin/python3.11", runvlc, "URL", "ch2"], executable: "/usr/bin/python3.11", expected: true),
        Case(label: "interpreter upgraded on disk", rule: radio,
             commandLine: ["python3", runvlc, "URL", "ch2"], executable: "/usr/bin/python3.11 (deleted)", expected: true),
        Case(label: "another script to the same device", rule: radio,
             commandLine: ["python3", "/home/pi/amplipi-dev/streams/fmradio.py", "ch2"], executable: "/usr/bin/python3.11", expected: false),
        Case(label: "same script, another device", rule: radio,
             commandLine: ["python3", runvlc, "URL", "ch3"], executable: "/usr/bin/python3.11", expected: false),
        Case(label: "ch2 is not ch21", rule: radio,
             commandLine: ["python3", runvlc, "URL", "ch21"], executable: "/usr/bin/python3.11", expected: false),
        Case(label: "ch2 inside another element", rule: radio,
             commandLine: ["python3", runvlc, "--device=ch2"], executable: "/usr/bin/python3.11", expected: false),
        Case(label: "a python3.11 elsewhere", rule: radio,
             commandLine: ["python3", runvlc, "URL", "ch2"], executable: "/opt/venv/bin/python3.11", expected: false),
        Case(label: "another interpreter", rule: radio,
             commandLine: ["python2", runvlc, "URL", "ch2"], executable: "/usr/bin/python2.7", expected: false),
        Case(label: "exe unreadable: argv[0] decides, as for the -o rule", rule: radio,
             commandLine: ["python3", runvlc, "URL", "ch2"], executable: nil, expected: true),

        // `--x=v` is one element.
        Case(label: "--x=v matches --x=v", rule: dlna(["--gstout-audiodevice=ch1"]),
             commandLine: ["gmediarender", "--gstout-audiodevice=ch1"], executable: "/usr/bin/gmediarender", expected: true),
        Case(label: "--x=v is not --x v", rule: dlna(["--gstout-audiodevice=ch1"]),
             commandLine: ["gmediarender", "--gstout-audiodevice", "ch1"], executable: "/usr/bin/gmediarender", expected: false),
        Case(label: "--x is not --x=v", rule: dlna(["--gstout-audiodevice"]),
             commandLine: ["gmediarender", "--gstout-audiodevice=ch1"], executable: "/usr/bin/gmediarender", expected: false),
        Case(label: "both elements of --x v, either order", rule: dlna(["ch1", "--gstout-audiodevice"]),
             commandLine: ["gmediarender", "--gstout-audiodevice", "ch1"], executable: "/usr/bin/gmediarender", expected: true),
        Case(label: "every ARG is needed", rule: dlna(["--gstout-audiodevice", "ch1", "-f", "Zone"]),
             commandLine: ["gmediarender", "--gstout-audiodevice", "ch1", "-f"], executable: "/usr/bin/gmediarender", expected: false),

        // No identity at all matches nothing, whatever the process.
        Case(label: "no device and no ARG", rule: dlna([]),
             commandLine: ["gmediarender", "--gstout-audiodevice", "ch1"], executable: "/usr/bin/gmediarender", expected: false),
        // The -o identity with a script: both must hold.
        Case(label: "-o and the script", rule: withDevice(radio, "lb3c"),
             commandLine: ["python3", runvlc, "ch2", "-o", "lb3c"], executable: "/usr/bin/python3.11", expected: true),
        Case(label: "-o without the script", rule: withDevice(radio, "lb3c"),
             commandLine: ["python3", "/srv/other.py", "ch2", "-o", "lb3c"], executable: "/usr/bin/python3.11", expected: false),
    ]

    static func dlna(_ arguments: [String]) -> StalePlayerRule {
        StalePlayerRule(baseName: "gmediarender", executable: "/usr/bin/gmediarender", device: nil, arguments: arguments,
                        uid: 1000, excluded: [])
    }

    static func withDevice(_ rule: StalePlayerRule, _ device: String) -> StalePlayerRule {
        var rule = rule
        rule.device = device
        return rule
    }

    @Test(arguments: cases)
    func identityRule(_ example: Case) {
        #expect(StalePlayers.matches(commandLine: example.commandLine, executable: example.executable,
                                     uid: example.uid, state: example.state, rule: example.rule) == example.expected)
    }

    /// The basename rule still holds where resolution fails or differs: a
    /// copy of the player elsewhere (how the tests run players) is the player.
    @Test func theBasenameRuleStillHolds() {
        var rule = Self.shairport
        rule.executable = nil
        #expect(StalePlayers.matches(commandLine: ["shairport-sync", "-c", Self.shairportConf],
                                     executable: "/tmp/bin/shairport-sync", uid: 1000, state: "S", rule: rule))
        rule.executable = "/usr/bin/shairport-sync"
        #expect(StalePlayers.matches(commandLine: ["shairport-sync", "-c", Self.shairportConf],
                                     executable: "/tmp/bin/shairport-sync", uid: 1000, state: "S", rule: rule))
        // Without resolution, python3 never matches the python3.11 it runs:
        // waiting, not a wrong kill.
        var radio = Self.radio
        radio.executable = nil
        #expect(!StalePlayers.matches(commandLine: ["python3", Self.runvlc, "ch2"], executable: "/usr/bin/python3.11",
                                      uid: 1000, state: "S", rule: radio))
    }

    // MARK: The identity in force

    static func settings(_ command: [String], _ extra: [String]) throws -> GateSettings {
        guard case .run(let options) = try OptionParser.parse(extra + ["--"] + command) else {
            throw CancellationError()
        }
        return try #require(options.derived.gate)
    }

    @Test func theIssuesExamples() throws {
        let shairport = StaleRuleInForce(
            try Self.settings(["shairport-sync", "-c", Self.shairportConf], ["--alsa-device", "lb2c", "--stale-match", Self.shairportConf]),
            resolve: { $0 == "shairport-sync" ? "/usr/bin/shairport-sync" : nil }, isRegularFile: { _ in true })
        #expect(shairport.endsLeftovers)
        #expect(shairport.rule(uid: 1000, excluded: []) == Self.shairport)
        #expect(shairport.addedScript == nil, "named by --stale-match already")
        #expect(shairport.leftover == "shairport-sync with \(Self.shairportConf)")

        let radio = StaleRuleInForce(
            try Self.settings(["python3", Self.runvlc, "URL", "ch2"], ["--alsa-device", "ch2", "--stale-match", Self.runvlc, "--stale-match", "ch2"]),
            resolve: { $0 == "python3" ? "/usr/bin/python3.11" : nil }, isRegularFile: { $0 == Self.runvlc })
        #expect(radio.rule(uid: 1000, excluded: []) == Self.radio)
        #expect(radio.announcement == "stale rule for ch2: a leftover is python3 (/usr/bin/python3.11) whose arguments include '\(Self.runvlc)', 'ch2', run by the same user and not started by monitord")
    }

    /// `--stale-match ch2` alone: the script is added, so another python3
    /// script playing to ch2 is never taken for this one.
    @Test func theInterpretersScriptIsAlwaysPartOfTheIdentity() throws {
        let settings = try Self.settings(["python3", "-u", Self.runvlc, "URL", "ch2"], ["--alsa-device", "ch2", "--stale-match", "ch2"])
        #expect(settings.scriptCandidate == Self.runvlc)
        let inForce = StaleRuleInForce(settings, resolve: { _ in "/usr/bin/python3.11" }, isRegularFile: { $0 == Self.runvlc })
        #expect(inForce.arguments == ["ch2", Self.runvlc])
        #expect(inForce.addedScript == Self.runvlc)
        #expect(inForce.announcement.hasSuffix("; the script \(Self.runvlc) is part of it because COMMAND runs it"))
        let rule = inForce.rule(uid: 1000, excluded: [])
        #expect(!StalePlayers.matches(commandLine: ["python3", "/home/pi/amplipi-dev/streams/fmradio.py", "ch2"],
                                      executable: "/usr/bin/python3.11", uid: 1000, state: "S", rule: rule))
        #expect(StalePlayers.matches(commandLine: ["python3", "-u", Self.runvlc, "URL", "ch2"],
                                     executable: "/usr/bin/python3.11", uid: 1000, state: "S", rule: rule))

        // A first non-option word that is no file (a URL, a zone name) adds nothing.
        let url = StaleRuleInForce(try Self.settings(["cvlc", "http://radio/stream", "--alsa-audio-device", "ch0"],
                                                     ["--alsa-device", "ch0", "--stale-match", "ch0"]),
                                   resolve: { _ in "/usr/bin/vlc" }, isRegularFile: { _ in false })
        #expect(url.arguments == ["ch0"] && url.addedScript == nil)
        #expect(!url.announcement.contains("script"))
    }

    /// The script rule applies to the `-o` identity too; without a script
    /// that identity is exactly the old one.
    @Test func theDefaultIdentityIsUnchanged() throws {
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

import Foundation
import Glibc
import Testing
import Reactor
import TestSupport

@Suite struct StalePlayersTests {
    static let rule = StalePlayerRule(baseName: "squeezelite", device: "lb0c", uid: 1000, excluded: [])

    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var commandLine: [String]
        var executable: String? = "squeezelite"
        var uid: UInt32 = 1000
        var state: Character? = "S"
        var device: String = "lb0c"
        var expected: Bool
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "exact -o VALUE", commandLine: ["/usr/bin/squeezelite", "-n", "Zone", "-m", "aa:bb", "-o", "lb0c", "-f", "/var/log/x"], expected: true),
        Case(label: "joined -oVALUE", commandLine: ["squeezelite", "-olb0c"], expected: true),
        Case(label: "exe unreadable", commandLine: ["squeezelite", "-o", "lb0c"], executable: nil, expected: true),
        Case(label: "exe replaced on disk", commandLine: ["squeezelite", "-o", "lb0c"], executable: "squeezelite (deleted)", expected: true),
        Case(label: "sleeping or running", commandLine: ["squeezelite", "-o", "lb0c"], state: "R", expected: true),
        Case(label: "last -o wins", commandLine: ["squeezelite", "-o", "lb1c", "-o", "lb0c"], expected: true),

        Case(label: "lb1c never matches lb11c", commandLine: ["squeezelite", "-o", "lb11c"], device: "lb1c", expected: false),
        Case(label: "lb11c never matches lb1c", commandLine: ["squeezelite", "-o", "lb1c"], device: "lb11c", expected: false),
        Case(label: "other device", commandLine: ["squeezelite", "-o", "lb1c"], expected: false),
        Case(label: "-o=VALUE", commandLine: ["squeezelite", "-o=lb0c"], expected: false),
        Case(label: "--output VALUE", commandLine: ["squeezelite", "--output", "lb0c"], expected: false),
        Case(label: "value with suffix", commandLine: ["squeezelite", "-o", "lb0cx"], expected: false),
        Case(label: "value as prefix", commandLine: ["squeezelite", "-o", "lb0"], expected: false),
        Case(label: "-o without value", commandLine: ["squeezelite", "-o"], expected: false),
        Case(label: "no -o", commandLine: ["squeezelite", "-n", "lb0c"], expected: false),
        Case(label: "overridden by a later -o", commandLine: ["squeezelite", "-o", "lb0c", "-o", "lb1c"], expected: false),
        Case(label: "after --", commandLine: ["squeezelite", "--", "-o", "lb0c"], expected: false),
        Case(label: "device only in argv[0]", commandLine: ["-olb0c"], expected: false),
        Case(label: "other program", commandLine: ["/usr/bin/aplay", "-o", "lb0c"], executable: "aplay", expected: false),
        Case(label: "name as prefix", commandLine: ["/opt/squeezelite-ng", "-o", "lb0c"], executable: "squeezelite-ng", expected: false),
        Case(label: "argv[0] spoofed, exe differs", commandLine: ["squeezelite", "-o", "lb0c"], executable: "python3", expected: false),
        Case(label: "other user", commandLine: ["squeezelite", "-o", "lb0c"], uid: 0, expected: false),
        Case(label: "zombie", commandLine: ["squeezelite", "-o", "lb0c"], state: "Z", expected: false),
        Case(label: "kernel thread", commandLine: [], executable: nil, expected: false),
    ]

    @Test(arguments: cases)
    func matchingRule(_ example: Case) {
        var rule = Self.rule
        rule.device = example.device
        #expect(StalePlayers.matches(commandLine: example.commandLine, executable: example.executable,
                                     uid: example.uid, state: example.state, rule: rule) == example.expected)
    }

    @Test func ruleBaseNameMayBeAPath() {
        var rule = Self.rule
        rule.baseName = "/usr/bin/squeezelite"
        #expect(StalePlayers.matches(commandLine: ["squeezelite", "-o", "lb0c"], executable: "squeezelite", uid: 1000, state: "S", rule: rule))
    }

    @Test func gateDetection() {
        #expect(GateDetection.outputDevice(in: ["/usr/bin/squeezelite", "-n", "Z", "-o", "lb3c", "-f", "log"]) == "lb3c")
        #expect(GateDetection.outputDevice(in: ["squeezelite", "-olb3c"]) == "lb3c")
        #expect(GateDetection.outputDevice(in: ["squeezelite", "-o", "lb3c", "-o", "lb4c"]) == "lb4c", "getopt: the last wins")
        #expect(GateDetection.outputDevice(in: ["alsaloop", "-C", "lb3p", "-P", "ch1", "-t", "100000"]) == nil)
        #expect(GateDetection.outputDevice(in: ["squeezelite", "-o"]) == nil)
        #expect(GateDetection.outputDevice(in: ["-o", "lb3c"]) == nil, "argv[0] is never an option")
        #expect(GateDetection.outputDevice(in: ["squeezelite", "--output", "lb3c"]) == nil)
        #expect(GateDetection.outputDevice(in: ["squeezelite", "-o=lb3c"]) == "=lb3c", "the caller's lb prefix check rejects it")
        #expect(GateDetection.outputDevice(in: []) == nil)
    }

    /// find/verify read cmdline, status and exe of each /proc entry.
    @Test func findReadsProcEntries() throws {
        let root = ALSATestRig.makeDirectory("staleproc")
        func process(_ pid: Int32, _ argv: [String], uid: UInt32 = 1000, state: String = "S (sleeping)", exe: String? = "/usr/bin/squeezelite") throws {
            let directory = root.appendingPathComponent("\(pid)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try argv.map { $0 + "\0" }.joined().write(to: directory.appendingPathComponent("cmdline"), atomically: true, encoding: .utf8)
            let status = "Name:\tsqueezelite\nUmask:\t0022\nState:\t\(state)\nTgid:\t\(pid)\nUid:\t\(uid)\t\(uid + 1)\t\(uid + 2)\t\(uid + 3)\nGid:\t0\t0\t0\t0\n"
            try status.write(to: directory.appendingPathComponent("status"), atomically: true, encoding: .utf8)
            if let exe {
                try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("exe").path, withDestinationPath: exe)
            }
        }
        try process(10, ["squeezelite", "-o", "lb0c"])
        try process(11, ["squeezelite", "-o", "lb0c"], exe: "/usr/bin/squeezelite (deleted)")
        try process(12, ["squeezelite", "-o", "lb0c"], exe: nil)
        try process(20, ["squeezelite", "-o", "lb0c"], uid: 0)
        try process(21, ["squeezelite", "-o", "lb0c"], uid: 999) // effective uid 1000 must not count
        try process(22, ["squeezelite", "-o", "lb0c"], state: "Z (zombie)")
        try process(23, [], exe: nil)
        try process(24, ["squeezelite", "-o", "lb1c"])
        try process(25, ["squeezelite", "-o", "lb0c"]) // excluded: monitord's own child

        var rule = Self.rule
        rule.excluded = [25]
        #expect(StalePlayers.find(rule, procRoot: root.path) == [10, 11, 12])
        #expect(StalePlayers.verify(pid: 10, rule: rule, procRoot: root.path))
        #expect(!StalePlayers.verify(pid: 25, rule: rule, procRoot: root.path))
        #expect(!StalePlayers.verify(pid: 99, rule: rule, procRoot: root.path))
    }

    /// The real thing: copies of pcm-holder named `squeezelite` and decoys,
    /// found through the real /proc. Other tests may run players at the same
    /// time, so the assertions are about these pids only.
    @Test(.enabled(if: ALSATestRig.productsAvailable))
    func findsARealStalePlayerAndSparesDecoys() throws {
        let directory = ALSATestRig.makeDirectory("stale")
        let bin = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let squeezelite = bin.appendingPathComponent("squeezelite").path
        try FileManager.default.copyItem(atPath: ALSATestRig.holderPath, toPath: squeezelite)

        // Each player that opens lb0c needs its own fake device, or the
        // plugin's lock would make all but one exit with EBUSY.
        func environment(_ label: String, devices: [String] = ["lb0c", "lb1c"]) -> [String: String] {
            ALSATestRig.card("stale-\(label)", devices: devices).childEnvironment
        }
        let stale = try PlayerProcess.launch(squeezelite, ["-n", "Old", "-o", "lb0c"], environment: environment("target"))
        let otherDevice = try PlayerProcess.launch(squeezelite, ["-n", "Other", "-o", "lb1c"], environment: environment("lb1c"))
        let similarDevice = try PlayerProcess.launch(squeezelite, ["-o", "lb0cx"], environment: environment("lb0cx", devices: ["lb0cx"]))
        let otherName = try PlayerProcess.launch(ALSATestRig.holderPath, ["-o", "lb0c"], environment: environment("name"))
        let ownChild = try PlayerProcess.launch(squeezelite, ["-n", "New", "-olb0c"], environment: environment("child"))

        let rule = StalePlayerRule(baseName: "/usr/bin/squeezelite", device: "lb0c", uid: getuid(), excluded: [monitordStandIn, ownChild.pid])
        let found = StalePlayers.find(rule)
        #expect(found.contains(stale.pid))
        for decoy in [otherDevice, similarDevice, otherName, ownChild] {
            #expect(!found.contains(decoy.pid), "decoy \(decoy.arguments) must not match")
        }
        #expect(StalePlayers.verify(pid: stale.pid, rule: rule))
        #expect(!StalePlayers.verify(pid: ownChild.pid, rule: rule))

        // After the player exited (and was reaped) the pid no longer verifies.
        stale.kill(SIGTERM)
        #expect(stale.waitForExit(timeout: .seconds(5)) == .exited(0))
        #expect(!StalePlayers.verify(pid: stale.pid, rule: rule))
        #expect(!StalePlayers.find(rule).contains(stale.pid))
    }
}

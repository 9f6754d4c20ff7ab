import Foundation
import Glibc
import Testing
import Reactor
import TestSupport

/// The search for stale players over /proc: a fake /proc tree, then real
/// players (copies of pcm-holder) and decoys in the real one.
@Suite struct StaleSearchTests {
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

        var rule = StaleMatchRuleTests.outputRule
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

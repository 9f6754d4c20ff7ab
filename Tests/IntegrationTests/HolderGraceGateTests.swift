import Foundation
import Glibc
import Testing
import TestSupport

/// The holder grace on the real binary: a device that fails once and is
/// ready again within the grace costs one info line and no warning; one
/// still held after it gets the warning with the holder's name.
@Suite struct HolderGraceGateTests {
    static func player(_ scratch: Scratch) -> String {
        scratch.script("player.sh", """
        echo started >> "\(scratch.file("player-starts"))"
        exec sleep 1000
        """)
    }

    @Test(.needsTestPlugin) func aDeviceReadyWithinTheGraceIsOneInfoLineAndNoWarning() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        card.set("lb0c", "fail-open EINVAL")
        let status = scratch.file("status")
        // A generous grace: the test flips the device to ok after the first
        // failed probe, however loaded the machine.
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--holder-grace", "20s", "--probe-retry", "200ms",
                                     "--status-file", status, "--alsa-device", "lb0c", Self.player(scratch)],
                                    scratch: scratch, environment: card.environment)
        #expect(eventually { (Int(statusFields(status)["gate_failed_probes"] ?? "") ?? 0) >= 1 }, "\(monitord.log)")
        card.set("lb0c", "ok")
        #expect(eventually(timeout: .seconds(10)) { scratch.lines("player-starts").count == 1 }, "\(monitord.log)")
        #expect(monitord.waitForLog("started player.sh"))
        let ready = monitord.logLines.filter { $0.contains("lb0c ready after") }
        #expect(ready.count == 1, "\(monitord.log)")
        #expect(ready.first?.hasSuffix("probes: open: EINVAL (Invalid argument), no holder found") == true, "\(monitord.log)")
        // Nothing else about the wait at info or above: no warning, no holder report.
        #expect(monitord.count("is not available") == 0, "\(monitord.log)")
        #expect(monitord.count("no process holds") == 0, "\(monitord.log)")
        #expect(monitord.logLines.count == 2, "ready and started only:\n\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    /// Within the grace the first failed probe still names the process
    /// holding this PCM's node, at info and before any warning; the
    /// rest of that first report stays a detail.
    @Test(.needsTestPlugin) func theFirstFailedProbeNamesTheHolderAtInfo() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        let holder = try card.startPlayer(named: "aplay", arguments: ["-o", "lb1c"], logName: "holder")
        defer { holder.end() }
        #expect(eventually { card.isHeld(card: 1) })
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--holder-grace", "20s", "--stale-after", "1000",
                                     "--alsa-device", "lb1c", Self.player(scratch)],
                                    scratch: scratch, environment: card.environment)
        #expect(monitord.waitForLog("lb1c holder: pid \(holder) ("), "\(monitord.log)")
        #expect(monitord.count("lb1c holder: pid") == 1, "\(monitord.log)")
        #expect(monitord.count("is not available") == 0, "no warning within the grace:\n\(monitord.log)")
        #expect(scratch.lines("player-starts").isEmpty)
        holder.signal(SIGTERM)
        #expect(holder.wait() == .exited(0))
        #expect(monitord.waitForLog("started player.sh"), "\(monitord.log)")
        let ready = monitord.logLines.filter { $0.contains("lb1c ready after") }
        #expect(ready.count == 1 && ready.first?.contains(": held by pid \(holder) aplay") == true, "\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    @Test(.needsTestPlugin) func aHolderStillThereAfterTheGraceIsWarnedAboutByName() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        let holder = try card.startPlayer(named: "aplay", arguments: ["-o", "lb1c"], logName: "holder")
        defer { holder.end() }
        #expect(eventually { card.isHeld(card: 1) })
        let clock = ContinuousClock()
        let start = clock.now
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--holder-grace", "300ms", "--stale-after", "1000",
                                     "--alsa-device", "lb1c", Self.player(scratch)],
                                    scratch: scratch, environment: card.environment)
        #expect(monitord.waitForLog("lb1c is not available (open: EBUSY (Device or resource busy)) after "), "\(monitord.log)")
        #expect(clock.now - start >= .milliseconds(300))
        #expect(monitord.waitForLog("lb1c holder: pid \(holder) ("), "\(monitord.log)")
        #expect(monitord.count("is not available") == 1)
        #expect(scratch.lines("player-starts").isEmpty)
        holder.signal(SIGTERM)
        #expect(holder.wait() == .exited(0))
        #expect(monitord.waitForLog("lb1c ready after"))
        // The end of a warned wait says no more than that.
        #expect(monitord.logLines.first { $0.contains("lb1c ready after") }?.hasSuffix(" probes") == true, "\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }
}

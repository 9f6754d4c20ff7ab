import Foundation
import Glibc
import Testing
import TestSupport

/// The device watched while the player runs, on the real binary: a holder
/// that is not the player's is named in the status file and dropped when it
/// lets go; an intruder is never ended; a leftover of the same player that
/// takes the device is ended by the stale rule, a decoy of another identity
/// left alone. `--alsa-gate watch` starts the player without a probe.
@Suite struct RunningWatchTests {
    static func player(_ scratch: Scratch) -> String {
        scratch.script("player.sh", """
        echo started >> "\(scratch.file("player-starts"))"
        exec sleep 1000
        """)
    }

    /// The summary as the file writes it (spaces percent-encoded).
    static func encoded(_ text: String) -> String { text.replacingOccurrences(of: " ", with: "%20") }

    @Test(.needsTestPlugin) func watchStartsAtOnceAndNamesAnIntruderUntilItLetsGoWithoutEndingIt() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch, devices: ["lb0c"])
        let intruder = try card.startPlayer(named: "aplay", arguments: ["-o", "lb0c"], logName: "intruder")
        defer { intruder.end() }
        #expect(eventually { card.isHeld(card: 0) })
        let status = scratch.file("status")
        // A leftover would be ended after 100 ms: the intruder must outlive that many times over.
        let monitord = try Monitord(["--alsa-gate", "watch", "--alsa-device", "lb0c", "--stale-match", "player.sh",
                                     "--stale-after", "2", "--probe-retry", "100ms", "--probe-interval", "100ms",
                                     "--holder-grace", "0", "--snd-dir", card.soundDirectory, "--status-file", status,
                                     Self.player(scratch)],
                                    scratch: scratch, environment: card.environment)
        #expect(eventually { scratch.lines("player-starts").count == 1 }, "started though the device is held:\n\(monitord.log)")
        #expect(eventually { statusFields(status)["holder_pid"] == "\(intruder)" }, "\(monitord.log)")
        let fields = statusFields(status)
        #expect(fields["state"] == "running")
        #expect(fields["summary"]?.hasSuffix(Self.encoded("; lb0c held by pid \(intruder) aplay")) == true, "\(fields)")
        #expect(monitord.waitForLog("lb0c held by pid \(intruder) ("), "\(monitord.log)")
        #expect(monitord.count("failed probe") == 0 && monitord.count("not available") == 0, "no probe:\n\(monitord.log)")
        // Twenty windows later it is still there, named, never signalled.
        usleep(2_000_000)
        #expect(ProcessTable.isAlive(intruder.pid))
        #expect(monitord.count("ending stale player") == 0, "\(monitord.log)")
        #expect(monitord.count("lb0c held by pid \(intruder)") == 1, "logged once:\n\(monitord.log)")
        intruder.signal(SIGTERM)
        #expect(intruder.wait() == .exited(0))
        #expect(eventually { statusFields(status)["holder_pid"] == nil }, "dropped once it let go:\n\(monitord.log)")
        #expect(statusFields(status)["summary"]?.contains("held%20by") == false)
        #expect(scratch.lines("player-starts").count == 1, "the player was not restarted")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    @Test(.needsTestPlugin) func aLeftoverTakingTheDeviceWhileThePlayerRunsIsEndedItsDecoyLeftAlone() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch, devices: ["lb0c", "lb1c", "lb2c"])
        // The player and its leftover are the same program with the same
        // identity (`zone-a`); the decoy is that program with another.
        let binaries = scratch.file("bin")
        try FileManager.default.createDirectory(atPath: binaries, withIntermediateDirectories: true)
        let squeezelite = binaries + "/squeezelite"
        try copyExecutable(Products.pcmHolder, to: squeezelite)
        let status = scratch.file("status")
        let monitord = try Monitord(["--alsa-gate", "watch", "--alsa-device", "lb0c", "--stale-match", "zone-a",
                                     "--stale-after", "2", "--probe-retry", "200ms", "--probe-interval", "200ms",
                                     "--holder-grace", "0", "--snd-dir", card.soundDirectory, "--status-file", status,
                                     squeezelite, "-o", "lb1c", "zone-a"],
                                    scratch: scratch, environment: card.environment)
        guard let player = monitord.firstStartedPID() else { Issue.record("no start:\n\(monitord.log)"); return }
        #expect(eventually { card.isHeld(card: 1) })
        let decoy = try SpawnedChild([squeezelite, "-o", "lb2c", "zone-b"], environment: card.childEnvironment,
                                     stdout: scratch.file("decoy.out"), stderr: scratch.file("decoy.err"))
        defer { decoy.end() }
        #expect(eventually { card.isHeld(card: 2) })
        let leftover = try SpawnedChild([squeezelite, "-o", "lb0c", "zone-a"], environment: card.childEnvironment,
                                        stdout: scratch.file("leftover.out"), stderr: scratch.file("leftover.err"))
        defer { leftover.end() }
        #expect(leftover.wait() == .exited(0),
                "ended (SIGTERM, then it closes and exits 0):\n\(monitord.log)")
        #expect(monitord.waitForLog("ending stale player pid \(leftover) ("), "\(monitord.log)")
        let named = monitord.logLines.firstIndex { $0.contains("lb0c held by pid \(leftover) (") }
        let ended = monitord.logLines.firstIndex { $0.contains("ending stale player pid \(leftover)") }
        #expect(named != nil && ended != nil && named! < ended!, "named, then ended:\n\(monitord.log)")
        #expect(ProcessTable.isAlive(decoy.pid), "another identity is never ended")
        #expect(monitord.count("ending stale player pid \(decoy)") == 0)
        #expect(ProcessTable.isAlive(player), "the player runs on")
        #expect(eventually { statusFields(status)["holder_pid"] != "\(leftover)" }, "\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    /// The default gate watches too: once its probe let the player start, a
    /// process that takes the device is named until it lets go.
    @Test(.needsTestPlugin) func theProbingGateAlsoWatchesWhileThePlayerRuns() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch, devices: ["lb0c"])
        let status = scratch.file("status")
        let monitord = try Monitord(["--alsa-device", "lb0c", "--snd-dir", card.soundDirectory, "--status-file", status,
                                     Self.player(scratch)],
                                    scratch: scratch, environment: card.environment)
        #expect(eventually { scratch.lines("player-starts").count == 1 }, "\(monitord.log)")
        #expect(monitord.waitForLog("started player.sh"), "\(monitord.log)")
        let intruder = try card.startPlayer(named: "aplay", arguments: ["-o", "lb0c"], logName: "intruder")
        defer { intruder.end() }
        #expect(eventually { statusFields(status)["holder_pid"] == "\(intruder)" }, "\(monitord.log)")
        #expect(monitord.waitForLog("lb0c held by pid \(intruder) ("), "\(monitord.log)")
        intruder.signal(SIGTERM)
        #expect(intruder.wait() == .exited(0))
        #expect(eventually { statusFields(status)["holder_pid"] == nil }, "\(monitord.log)")
        #expect(scratch.lines("player-starts").count == 1)
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    /// A stop ends the watch: a device opened while the player is being
    /// stopped is not looked at (nor is the player's own close of it).
    @Test(.needsTestPlugin) func aStopEndsTheWatch() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch, devices: ["lb0c"])
        let stubborn = scratch.script("stubborn.sh", """
        trap '' TERM
        echo started >> "\(scratch.file("player-starts"))"
        exec sleep 1000
        """)
        let monitord = try Monitord(["--alsa-gate", "watch", "--alsa-device", "lb0c", "--stop-timeout", "60s",
                                     "--holder-grace", "0", "--snd-dir", card.soundDirectory, stubborn],
                                    scratch: scratch, environment: card.environment)
        #expect(eventually { scratch.lines("player-starts").count == 1 })
        monitord.signal(SIGTERM)
        #expect(monitord.waitForLog("received SIGTERM: stopping"))
        let intruder = try card.startPlayer(named: "aplay", arguments: ["-o", "lb0c"], logName: "intruder")
        defer { intruder.end() }
        #expect(eventually { card.isHeld(card: 0) })
        usleep(500_000)
        #expect(monitord.count("held by pid") == 0, "looked at during the stop:\n\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait(timeout: .seconds(10)) == .exited(0))
        #expect(monitord.count("held by pid") == 0, "\(monitord.log)")
    }
}

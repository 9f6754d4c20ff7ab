import Foundation
import Glibc
import Testing
import TestSupport

/// The ALSA readiness gate on the real binary, real alsa-lib and the test
/// plugin. Probes are scaled down (100 ms of silence, 200 ms apart).
@Suite struct GateTests {
    static let fastProbes = ["--probe-duration", "100ms", "--probe-interval", "200ms"]

    /// A child that records that it started, then idles until stopped.
    static func player(_ scratch: Scratch) -> String {
        scratch.script("player.sh", """
        echo started >> "\(scratch.file("player-starts"))"
        exec sleep 1000
        """)
    }

    static func monitord(_ card: FakeSoundCard, in scratch: Scratch, _ options: [String], command: [String]) throws -> Monitord {
        try Monitord(["--snd-dir", card.soundDirectory] + fastProbes + options + ["--"] + command,
                     scratch: scratch, environment: card.environment)
    }

    @Test(.needsTestPlugin) func aBusyDeviceHoldsTheChildBackNamesTheHolderAndReleasesItWhenFree() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        let holder = try card.startPlayer(named: "other-app", arguments: ["-o", "lb0c"], logName: "holder")
        defer { holder.end() }
        #expect(eventually { card.isHeld(card: 0) })
        let monitord = try Self.monitord(card, in: scratch, ["--alsa-device", "lb0c", "--stale-after", "1000"],
                                         command: [Self.player(scratch)])
        #expect(monitord.waitForLog("is not available (open: EBUSY"))
        #expect(monitord.waitForLog("holder: pid \(holder) ("))
        // Several probe intervals pass: still no child, and no line per probe.
        usleep(1_000_000)
        #expect(scratch.lines("player-starts").isEmpty)
        #expect(monitord.count("is not available") == 1)
        #expect(monitord.count("started ") == 0)
        let linesWhileWaiting = monitord.logLines.count

        holder.signal(SIGTERM)
        #expect(holder.wait() == .exited(0))
        // Within about one probe interval (plus the probe itself); generous bound.
        #expect(eventually(timeout: .seconds(5)) { scratch.lines("player-starts").count == 1 })
        #expect(monitord.waitForLog("lb0c ready after"))
        // The child may write its marker before monitord logs the start.
        #expect(monitord.waitForLog("started player.sh"))
        #expect(linesWhileWaiting <= 3, "waiting must be quiet:\n\(monitord.log)")
        let log = monitord.log
        let ready = try #require(log.range(of: "lb0c ready after"))
        let started = try #require(log.range(of: "started player.sh"))
        #expect(ready.lowerBound < started.lowerBound)
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    @Test(.needsTestPlugin, arguments: [
        ("fail-hw EINVAL", "hw_params: EINVAL"),
        ("never-ready", "no playback progress before the probe deadline"),
        ("fail-open ENODEV", "open: ENODEV"),
        ("fail-write EIO", "write: EIO"),
    ])
    func aFailingDeviceIsWaitedForTheSameWay(state: String, reason: String) throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        card.set("lb0c", state)
        let monitord = try Self.monitord(card, in: scratch, ["--stale-after", "1000"],
                                         command: [Self.player(scratch), "-o", "lb0c"])
        #expect(monitord.waitForLog("lb0c is not available (\(reason)"), "\(monitord.log)")
        #expect(monitord.waitForLog("no process holds"))
        #expect(scratch.lines("player-starts").isEmpty)
        card.set("lb0c", "ok")
        #expect(eventually(timeout: .seconds(10)) { scratch.lines("player-starts").count == 1 }, "\(monitord.log)")
        #expect(monitord.count("is not available") == 1)
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    // Stale-kill tests use device names no other test uses: the rule matches
    // by name and device machine-wide, and tests run in parallel.
    @Test(.needsTestPlugin) func aStalePlayerIsEndedAndDecoysSurvive() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch, devices: ["lb90c", "lb91c"])
        let stale = try card.startPlayer(named: "squeezelite", arguments: ["-n", "zone1", "-o", "lb90c"], logName: "stale")
        // Decoys: same name on another device, another name on the same device
        // (not holding it), and a near-miss device name.
        let otherDevice = try card.startPlayer(named: "squeezelite", arguments: ["-o", "lb91c"], logName: "decoy1")
        // argv = [shairport-sync, -c, ..., -o, lb0c]: another program aimed at lb0c.
        let otherName = try SpawnedChild(["/bin/bash", "-c", "exec -a shairport-sync /bin/sh -c 'sleep 1000; :' -o lb90c"],
                                         environment: card.environment, stdout: "/dev/null", stderr: "/dev/null")
        defer {
            for child in [stale, otherDevice, otherName] { child.end() }
        }
        #expect(eventually { card.isHeld(card: 0) && card.isHeld(card: 1) })

        // The real player is a copy of pcm-holder named squeezelite too.
        let binary = scratch.file("real/squeezelite")
        try FileManager.default.createDirectory(atPath: scratch.file("real"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Products.pcmHolder, toPath: binary)
        let monitord = try Self.monitord(card, in: scratch, ["--stale-after", "2", "--stop-timeout", "2s"],
                                         command: [binary, "-n", "zone1", "-o", "lb90c"])
        #expect(monitord.waitForLog("ending stale player pid \(stale) "), "\(monitord.log)")
        #expect(stale.wait() == .exited(0), "the stale player got SIGTERM and exited")
        #expect(monitord.waitForLog("started squeezelite"), "\(monitord.log)")
        let child = try #require(monitord.firstStartedPID())
        #expect(eventually { card.isHeld(card: 0) }, "monitord's own player holds lb0c now")
        #expect(ProcessTable.isAlive(otherDevice.pid))
        #expect(ProcessTable.isAlive(otherName.pid))
        #expect(ProcessTable.isAlive(child))
        #expect(monitord.count("ending stale player") == 1, "\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(!ProcessTable.isAlive(child))
    }

    @Test(.needsTestPlugin) func aStalePlayerIgnoringTermIsKilled() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch, devices: ["lb92c"])
        let stale = try card.startPlayer(named: "squeezelite", arguments: ["-o", "lb92c", "--ignore-term"], logName: "stale")
        defer { stale.end() }
        #expect(eventually { card.isHeld(card: 0) })
        let monitord = try Self.monitord(card, in: scratch, ["--stale-after", "2", "--stop-timeout", "300ms"],
                                         command: [scratch.file("bin-stale/squeezelite"), "-o", "lb92c"])
        #expect(monitord.waitForLog("stale player pid \(stale) ignored SIGTERM for 300 ms: sent SIGKILL"), "\(monitord.log)")
        #expect(stale.wait() == .signaled(SIGKILL))
        #expect(monitord.waitForLog("started squeezelite"))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    @Test(.needsTestPlugin) func stopDuringAProbeExitsPromptly() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        card.set("lb0c", "never-ready")
        // A 20 s probe (deadline 41 s): only the stop can end it quickly.
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--probe-duration", "20s", "--alsa-device", "lb0c",
                                     Self.player(scratch)], scratch: scratch, environment: card.environment)
        #expect(eventually { card.isHeld(card: 0) }, "the probe has the device open")
        let clock = ContinuousClock()
        let start = clock.now
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(clock.now - start < .seconds(5))
        #expect(!card.isHeld(card: 0), "the PCM was closed")
        #expect(scratch.lines("player-starts").isEmpty)
    }

    @Test(.needsTestPlugin) func stopWhileWaitingForTheDeviceExitsPromptly() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        card.set("lb0c", "fail-open EBUSY")
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--probe-interval", "10m", "--alsa-device", "lb0c",
                                     Self.player(scratch)], scratch: scratch, environment: card.environment)
        #expect(monitord.waitForLog("is not available"))
        let clock = ContinuousClock()
        let start = clock.now
        monitord.signal(SIGINT)
        #expect(monitord.wait() == .exited(0))
        #expect(clock.now - start < .seconds(5))
        #expect(monitord.log.contains("received SIGINT with no child running: exiting"))
    }

    @Test(.needsTestPlugin) func aCommandWithoutALoopbackOutputIsNotProbed() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        // A probe of lb0c would hang for 41 s here; the child must start at once.
        card.set("lb0c", "never-ready")
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--probe-duration", "20s",
                                     Self.player(scratch), "-C", "lb0c", "-P", "ch1"],
                                    scratch: scratch, environment: card.environment)
        #expect(eventually(timeout: .seconds(5)) { scratch.lines("player-starts").count == 1 })
        #expect(!card.isHeld(card: 0))
        #expect(monitord.count("not available") == 0)
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    @Test(.needsTestPlugin) func gateOffSkipsTheProbeEvenForLoopbackOutput() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        card.set("lb0c", "fail-open EBUSY")
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--alsa-gate", "off",
                                     Self.player(scratch), "-o", "lb0c"],
                                    scratch: scratch, environment: card.environment)
        #expect(eventually(timeout: .seconds(5)) { scratch.lines("player-starts").count == 1 })
        #expect(monitord.count("not available") == 0)
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    // MARK: Latency: orderings and generous bounds; the numbers are in BENCHMARKS.md

    /// With the timed probes a minute apart, only the release itself can
    /// start the player soon: the gate watches the sound directory while it
    /// waits, and the holder closing its node wakes it.
    @Test(.needsTestPlugin) func aReleasedDeviceStartsThePlayerWithoutWaitingForTheTimer() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        let holder = try card.startPlayer(named: "other-app", arguments: ["-o", "lb0c"], logName: "holder")
        defer { holder.end() }
        #expect(eventually { card.isHeld(card: 0) })
        // No holder grace: the warning (and its wait for the release) starts
        // at the first failed probe, not at a probe the grace's end would add.
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--probe-duration", "50ms",
                                     "--probe-retry", "1m", "--probe-interval", "1m", "--stale-after", "1000", "--holder-grace", "0",
                                     "--alsa-device", "lb0c", Self.player(scratch)],
                                    scratch: scratch, environment: card.environment)
        #expect(monitord.waitForLog("is not available (open: EBUSY"))
        usleep(300_000)
        #expect(scratch.lines("player-starts").isEmpty)
        func watches() -> Int { Footprint(of: monitord.pid).descriptors.filter { $0.hasSuffix("anon_inode:inotify") }.count }
        #expect(watches() == 1, "the gate watches the sound directory while it waits: \(Footprint(of: monitord.pid))")
        let clock = ContinuousClock()
        holder.signal(SIGTERM)
        #expect(holder.wait() == .exited(0))
        let released = clock.now
        #expect(eventually(timeout: .seconds(20)) { scratch.lines("player-starts").count == 1 }, "\(monitord.log)")
        #expect(clock.now - released < .seconds(20), "the next timed probe was a minute away")
        #expect(monitord.waitForLog("lb0c ready after"))
        #expect(monitord.log.contains("ready after") && monitord.log.contains(", 2 probes"), "one failed probe, one on the release:\n\(monitord.log)")
        #expect(monitord.waitForLog("started player.sh"))
        // The wait's watch is closed; the one left is the running watch of the
        // device's opens and closes, which wakes monitord only when one happens.
        #expect(eventually { watches() == 1 }, "one watch while the child runs: \(Footprint(of: monitord.pid))")
        // Its mask is IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE (0x38), not the wait's.
        let masks = Footprint(of: monitord.pid).descriptors.filter { $0.hasSuffix("anon_inode:inotify") }.map { entry in
            let fd = entry.prefix { $0 != "-" }
            return (try? String(contentsOfFile: "/proc/\(monitord.pid)/fdinfo/\(fd)", encoding: .utf8)) ?? ""
        }
        #expect(masks.count == 1 && masks[0].contains(" mask:38"), "\(masks)")
        #expect(monitord.count("held by pid") == 0, "the player is no holder to report:\n\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    /// A device that stays busy (here: every open fails with EBUSY, so there
    /// is no release to wake on): probes come fast at first, then less often,
    /// and the log stays as quiet as with fixed intervals.
    @Test(.needsTestPlugin) func whileTheDeviceStaysBusyProbesComeFastFirstThenLessOften() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        card.set("lb0c", "fail-open EBUSY")
        let status = scratch.file("status")
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--probe-retry", "20ms", "--probe-interval", "400ms",
                                     "--stale-after", "1000", "--status-file", status, "--alsa-device", "lb0c",
                                     Self.player(scratch)], scratch: scratch, environment: card.environment)
        func probes() -> Int { Int(statusFields(status)["gate_failed_probes"] ?? "") ?? 0 }
        #expect(monitord.waitForLog("is not available (open: EBUSY"))
        let clock = ContinuousClock()
        let start = clock.now
        usleep(1_000_000)
        let firstSecond = probes()
        let linesEarly = monitord.logLines.count
        while clock.now - start < .seconds(3) { usleep(10_000) }
        let atThree = probes()
        while clock.now - start < .seconds(4) { usleep(10_000) }
        let fourthSecond = probes() - atThree
        #expect(firstSecond >= 5, "fast retries at first: \(firstSecond) probes in the first second")
        #expect(fourthSecond <= 4, "at most one probe per 400 ms later: \(fourthSecond)")
        #expect(firstSecond > fourthSecond)
        #expect(monitord.count("is not available") == 1)
        #expect(monitord.logLines.count == linesEarly, "no line per probe:\n\(monitord.log)")
        #expect(scratch.lines("player-starts").isEmpty)
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    /// With the default probe options a device that opens and takes
    /// parameters but does not play is still refused: the short probe writes
    /// and waits for the device to play.
    @Test(.needsTestPlugin, arguments: [("fail-write EIO", "write: EIO"), ("never-ready", "no playback progress before the probe deadline")])
    func theDefaultProbeStillNeedsTheDeviceToPlay(state: String, reason: String) throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch)
        card.set("lb0c", state)
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--stale-after", "1000", "--alsa-device", "lb0c",
                                     Self.player(scratch)], scratch: scratch, environment: card.environment)
        #expect(monitord.waitForLog("lb0c is not available (\(reason)"), "\(monitord.log)")
        #expect(scratch.lines("player-starts").isEmpty)
        card.set("lb0c", "ok")
        #expect(eventually(timeout: .seconds(15)) { scratch.lines("player-starts").count == 1 }, "\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    /// Fast retries reuse alsa-lib's parsed configuration, but an open that
    /// failed other than with EBUSY still gets it read again now and then: a
    /// PCM defined later in an included file (as /etc/asound.conf is) is found.
    @Test(.needsTestPlugin) func aPCMDefinedLaterInAnIncludedFileIsFound() throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch, devices: ["lb0c"])
        let extra = scratch.file("extra.conf")
        try "# lb5c comes later\n".write(toFile: extra, atomically: true, encoding: .utf8)
        let top = scratch.file("top.conf")
        try "<\(extra)>\n".write(toFile: top, atomically: true, encoding: .utf8)
        var environment = card.environment
        environment["ALSA_CONFIG_PATH"] = "/usr/share/alsa/alsa.conf:\(scratch.file("alsa.conf")):\(top)"
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--stale-after", "1000", "--alsa-device", "lb5c",
                                     Self.player(scratch)], scratch: scratch, environment: environment)
        #expect(monitord.waitForLog("lb5c is not available (open: ENOENT"), "\(monitord.log)")
        usleep(500_000)
        try "pcm.!lb5c { type monitordtest state \"\(card.stateFile("lb0c"))\" }\n"
            .write(toFile: extra, atomically: true, encoding: .utf8)
        #expect(eventually(timeout: .seconds(15)) { scratch.lines("player-starts").count == 1 }, "\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }
}

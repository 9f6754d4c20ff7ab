import Foundation
import Glibc
import Testing
import TestSupport

/// `--stale-match` on the real binary: a leftover with the same identity is
/// ended and the new player starts; decoys (the same binary with other
/// arguments, another binary with the same arguments, the interpreter
/// running another script to the same device) stay alive; `--alsa-device`
/// without `--stale-match` ends nothing and says why.
///
/// The rule looks machine-wide and tests run in parallel, so the devices
/// here (lb60c, lb61c, lb62c, lb63c) are used by no other test.
@Suite struct StaleMatchTests {
    static let idle = "while :; do sleep 1; done"

    /// Idles under `name` (a copy of the shell) with `arguments` after `-c SCRIPT`.
    static func decoy(_ shell: String, _ arguments: [String], into spawned: inout [SpawnedChild]) throws -> pid_t {
        let child = try SpawnedChild([shell, "-c", idle] + arguments, environment: ProcessInfo.processInfo.environment,
                                   stdout: "/dev/null", stderr: "/dev/null")
        spawned.append(child)
        return child.pid
    }

    /// shairport-sync's shape: the output is in a configuration file, so the
    /// file's path is the identity.
    @Test(.needsTestPlugin, .timeLimit(.minutes(1)))
    func aLeftoverWithTheSameConfigurationIsEnded() throws {
        let scratch = Scratch()
        let device = "lb60c"
        let card = FakeSoundCard(scratch, devices: [device])
        for zone in ["v2", "v3"] {
            try FileManager.default.createDirectory(atPath: scratch.file("srcs/\(zone)"), withIntermediateDirectories: true)
            try "alsa = { output_device = \"\(device)\"; };\n".write(toFile: scratch.file("srcs/\(zone)/shairport.conf"), atomically: true, encoding: .utf8)
        }
        let conf = scratch.file("srcs/v2/shairport.conf")
        let otherConf = scratch.file("srcs/v3/shairport.conf")
        // The leftover: a pcm-holder named shairport-sync holding the device.
        let stale = try card.startPlayer(named: "shairport-sync", arguments: ["-c", conf, "-o", device], logName: "stale")
        var spawned: [SpawnedChild] = []
        defer {
            for child in spawned + [stale] { child.end() }
        }
        #expect(eventually { card.isHeld(card: 0) })

        let shairport = try StaleKillSafetyTests.shellNamed("shairport-sync", in: scratch.file("decoy-bin"))
        let gmediarender = try StaleKillSafetyTests.shellNamed("gmediarender", in: scratch.file("decoy-bin"))
        let decoys: [String: pid_t] = [
            "same binary, another zone's configuration": try Self.decoy(shairport, ["-c", otherConf, "-o", device], into: &spawned),
            "same binary, the ARG as a prefix": try Self.decoy(shairport, ["-c", conf + ".bak"], into: &spawned),
            "same binary, the ARG inside --config=": try Self.decoy(shairport, ["--config=" + conf], into: &spawned),
            "another binary, the same arguments": try Self.decoy(gmediarender, ["-c", conf, "-o", device], into: &spawned),
        ]

        let binary = scratch.file("real/shairport-sync")
        try FileManager.default.createDirectory(atPath: scratch.file("real"), withIntermediateDirectories: true)
        try copyExecutable(Products.pcmHolder, to: binary)
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--probe-duration", "100ms", "--probe-interval", "50ms",
                                     "--alsa-device", device, "--stale-match", conf, "--stale-after", "2", "--stop-timeout", "2s",
                                     "--", binary, "-c", conf, "-o", device],
                                    scratch: scratch, environment: card.environment)
        #expect(monitord.waitForLog("ending stale player pid \(stale) "), "\(monitord.log)")
        #expect(monitord.count("stale rule for \(device): a leftover is shairport-sync (\(canonicalPath(binary))) whose arguments include '\(conf)'") == 1,
                "\(monitord.log)")
        #expect(monitord.count("probes in a row: looking for a stale shairport-sync with \(conf)") >= 1, "\(monitord.log)")
        #expect(stale.wait() == .exited(0), "the leftover got SIGTERM and closed its device")
        #expect(monitord.waitForLog("started shairport-sync"), "\(monitord.log)")
        let child = try #require(monitord.firstStartedPID())
        #expect(eventually { card.isHeld(card: 0) }, "monitord's own player holds the device now")
        #expect(monitord.count("ending stale player") == 1, "\(monitord.log)")
        for (label, pid) in decoys {
            #expect(ProcessTable.isAlive(pid), "decoy '\(label)' (pid \(pid)) is gone")
            #expect(!monitord.log.contains("pid \(pid) ("), "decoy '\(label)' was named")
        }
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(!ProcessTable.isAlive(child))
    }

    /// A python3 player that holds an ALSA PCM through ctypes (libasound),
    /// as AmpliPi's runvlc.py/fmradio.py hold one through vlc or aplay, until
    /// SIGTERM, then exits 0. Under scripts/sanitize the test plugin is an
    /// ASan build that an uninstrumented python3 cannot load: it then says
    /// so and idles all the same (the device's state file keeps it busy).
    static let holderScript = """
    import ctypes, signal, sys
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    asound = ctypes.CDLL("libasound.so.2")
    pcm = ctypes.c_void_p()
    # SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK; S16_LE, RW_INTERLEAVED, 2 ch, 48 kHz
    if asound.snd_pcm_open(ctypes.byref(pcm), sys.argv[1].encode(), 0, 1) < 0 or \\
       asound.snd_pcm_set_params(pcm, 2, 3, 2, 48000, 1, 500000) < 0:
        print("no device", flush=True)
    else:
        print("ready", flush=True)
    signal.sigwait(stop)
    if pcm.value:
        asound.snd_pcm_close(pcm)
    """

    static let python3IsASymlink = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/usr/bin/python3")) != nil

    /// `--stale-match DEVICE` with `python3 SCRIPT DEVICE`: the leftover
    /// running the same script is ended (found through Debian's python3 →
    /// python3.N symlink), while python3 running another script with the
    /// same device argument stays: the script is part of the identity
    /// although no --stale-match names it, and the log says so.
    @Test(.needsTestPlugin, .enabled(if: python3IsASymlink, "needs Debian's /usr/bin/python3 symlink"), .timeLimit(.minutes(1)))
    func anInterpretersLeftoverIsToldApartByItsScript() throws {
        let scratch = Scratch()
        let device = "lb61c"
        let card = FakeSoundCard(scratch, devices: [device])
        let player = scratch.file("streams/runvlc.py")
        let other = scratch.file("streams/fmradio.py")
        try FileManager.default.createDirectory(atPath: scratch.file("streams"), withIntermediateDirectories: true)
        try Self.holderScript.write(toFile: player, atomically: true, encoding: .utf8)
        try "import time\ntime.sleep(1000)\n".write(toFile: other, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in card.environment { environment[key] = value }
        // As AmpliPi starts them: sys.executable, the script, its arguments.
        let stale = try SpawnedChild(["/usr/bin/python3", player, device], environment: environment,
                                     stdout: scratch.file("stale.out"), stderr: scratch.file("stale.err"))
        let decoy = try SpawnedChild(["/usr/bin/python3", other, "http://radio/stream", device], environment: environment,
                                     stdout: "/dev/null", stderr: "/dev/null")
        defer {
            for child in [stale, decoy] { child.end() }
        }
        #expect(eventually { !scratch.read("stale.out").isEmpty }, "\(scratch.read("stale.err"))")
        #expect(eventually { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(decoy)/exe"))?.hasPrefix("/usr/bin/python3.") == true })
        // Busy whether the leftover holds it or not, until the test says so.
        card.set(device, "fail-open EBUSY")

        // COMMAND is plain `python3`, found through PATH.
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--probe-duration", "100ms", "--probe-interval", "50ms",
                                     "--alsa-device", device, "--stale-match", device, "--stale-after", "2", "--stop-timeout", "2s",
                                     "--", "python3", player, device],
                                    scratch: scratch, environment: card.environment.merging(["PATH": "/usr/bin:/bin"]) { $1 })
        #expect(monitord.waitForLog("ending stale player pid \(stale) "), "\(monitord.log)")
        let python = canonicalPath("/usr/bin/python3")
        #expect(monitord.count("stale rule for \(device): a leftover is python3 (\(python)) whose arguments include '\(device)', '\(player)', run by the same user and not started by monitord; the script \(player) is part of it because COMMAND runs it") == 1,
                "\(monitord.log)")
        #expect(stale.wait() == .exited(0), "the leftover closed its device on SIGTERM")
        card.set(device, "ok")
        #expect(monitord.waitForLog("started python3"), "\(monitord.log)")
        let child = try #require(monitord.firstStartedPID())
        #expect(eventually { !scratch.read("monitord.log.stdout").isEmpty }, "monitord's own python3 runs")
        #expect(ProcessTable.isAlive(child))
        #expect(ProcessTable.isAlive(decoy.pid), "python3 running another script to \(device) was ended")
        #expect(!monitord.log.contains("pid \(decoy) ("))
        #expect(monitord.count("ending stale player") == 1, "\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(!ProcessTable.isAlive(child))
    }

    /// The same path without the test plugin, so that it runs on every build
    /// (the static Embedded ones under qemu-user too): a PCM that is not
    /// defined fails every probe, and the searches end exactly the leftover
    /// with both `--stale-match` elements, in another order.
    @Test(.timeLimit(.minutes(1)))
    func aLeftoverIsEndedOnEveryBuild() throws {
        let scratch = Scratch()
        let player = try StaleKillSafetyTests.shellNamed("zone-player", in: scratch.file("bin"))
        let other = try StaleKillSafetyTests.shellNamed("other-player", in: scratch.file("bin"))
        var spawned: [SpawnedChild] = []
        defer {
            for child in spawned { child.end() }
        }
        let leftover = try Self.decoy(player, ["lb63c", "--zone=den"], into: &spawned)
        let decoys: [String: pid_t] = [
            "one element of two": try Self.decoy(player, ["--zone=den"], into: &spawned),
            "another zone": try Self.decoy(player, ["--zone=den2", "lb63c"], into: &spawned),
            "split --zone den": try Self.decoy(player, ["--zone", "den", "lb63c"], into: &spawned),
            "another program": try Self.decoy(other, ["--zone=den", "lb63c"], into: &spawned),
        ]
        let monitord = try Monitord(["--probe-retry", "10ms", "--probe-interval", "50ms", "--stale-after", "1", "--stop-timeout", "1s",
                                     "--alsa-device", "monitord_test_undefined_pcm", "--stale-match", "--zone=den", "--stale-match", "lb63c",
                                     "--", player, "-c", Self.idle, "--zone=den", "lb63c"], scratch: scratch)
        #expect(monitord.waitForLog("ending stale player pid \(leftover) "), "\(monitord.log)")
        #expect(spawned.first { $0.pid == leftover }?.wait() == .signaled(SIGTERM))
        // More searches with the decoys still there.
        #expect(monitord.waitForLog("no stale zone-player with --zone=den, lb63c found", count: 2, timeout: .seconds(30)), "\(monitord.log)")
        #expect(monitord.count("ending stale player") == 1, "\(monitord.log)")
        for (label, pid) in decoys {
            #expect(ProcessTable.isAlive(pid), "decoy '\(label)' (pid \(pid)) is gone")
        }
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    /// `--alsa-device` alone: the same leftover the -o rule would end is
    /// named as a holder, never signalled, and one line says why, however
    /// many searches the failed probes ask for (debug lines count them).
    @Test(.needsTestPlugin, .timeLimit(.minutes(1)))
    func withoutStaleMatchNothingIsEnded() throws {
        let scratch = Scratch()
        let device = "lb62c"
        let card = FakeSoundCard(scratch, devices: [device])
        let stale = try card.startPlayer(named: "squeezelite", arguments: ["-o", device], logName: "stale")
        defer { stale.end() }
        #expect(eventually { card.isHeld(card: 0) })
        let binary = scratch.file("bin-stale/squeezelite")
        let monitord = try Monitord(["-v", "--snd-dir", card.soundDirectory, "--probe-duration", "50ms",
                                     "--probe-retry", "10ms", "--probe-interval", "20ms",
                                     "--alsa-device", device, "--stale-after", "1", "--stop-timeout", "300ms",
                                     "--", binary, "-o", device],
                                    scratch: scratch, environment: card.environment)
        #expect(monitord.waitForLog("holder: pid \(stale) ("), "\(monitord.log)")
        // Searches at failed probes 1, 2, 4, 8, ...: the first says why, the
        // later ones are debug lines.
        #expect(monitord.waitForLog("probes in a row: no --stale-match, nothing is ended", count: 3, timeout: .seconds(30)), "\(monitord.log)")
        #expect(monitord.count("no --stale-match: holders are named, not ended") == 1, "\(monitord.log)")
        #expect(monitord.count("ending stale player") == 0 && monitord.count("no stale ") == 0, "\(monitord.log)")
        #expect(monitord.count("looking for a stale") == 0, "\(monitord.log)")
        #expect(ProcessTable.isAlive(stale.pid))
        #expect(monitord.count("started squeezelite") == 0)

        // The holder goes away on its own: the player starts.
        stale.signal(SIGTERM)
        #expect(stale.wait() == .exited(0))
        #expect(monitord.waitForLog("started squeezelite"), "\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }
}

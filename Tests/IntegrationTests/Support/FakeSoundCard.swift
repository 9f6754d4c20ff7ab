import Foundation
import CEpoll
import Glibc
import TestSupport

/// A private ALSA world for one integration test: `lb0c` and `lb1c` mapped to
/// the `monitordtest` ioplug plugin (Sources/ALSATestPlugin), each with a state
/// file that decides how the "device" behaves on its next open, and a fake
/// `/dev/snd` whose nodes the plugin flocks while a PCM is open.
final class FakeSoundCard: @unchecked Sendable {
    let scratch: Scratch
    var soundDirectory: String { scratch.file("snd") }

    init(_ scratch: Scratch, devices: [String] = ["lb0c", "lb1c"]) {
        self.scratch = scratch
        try? FileManager.default.createDirectory(atPath: soundDirectory, withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(atPath: scratch.file("home"), withIntermediateDirectories: true)
        var config = "pcm_type.monitordtest { lib \"\(Products.testPlugin)\" }\n"
        for (card, name) in devices.enumerated() {
            // `!` replaces a system PCM of that name instead of merging into it.
            config += "pcm.!\(name) { type monitordtest state \"\(stateFile(name))\" device_file \"\(soundDirectory)/pcmC\(card)D0p\" }\n"
            set(name, "ok")
        }
        try? config.write(toFile: scratch.file("alsa.conf"), atomically: true, encoding: .utf8)
    }

    func stateFile(_ device: String) -> String { scratch.file("state-\(device)") }

    /// `ok`, `never-ready`, `fail-open EBUSY`, `fail-hw EINVAL`, ... (grammar in plugin.c).
    func set(_ device: String, _ state: String) {
        try? (state + "\n").write(toFile: stateFile(device), atomically: true, encoding: .utf8)
    }

    /// What a process needs in its environment to see this card.
    var environment: [String: String] {
        ["ALSA_CONFIG_PATH": "/usr/share/alsa/alsa.conf:\(scratch.file("alsa.conf"))", "HOME": scratch.file("home")]
    }

    /// Starts a copy of `pcm-holder` named `name` that opens `-o device` and
    /// holds it (and the plugin's lock) until SIGTERM.
    func startPlayer(named name: String, arguments: [String], logName: String) throws -> pid_t {
        let binary = scratch.file("bin-\(logName)/\(name)")
        try FileManager.default.createDirectory(atPath: scratch.file("bin-\(logName)"), withIntermediateDirectories: true)
        try copyExecutable(Products.pcmHolder, to: binary)
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in self.environment { environment[key] = value }
        return try spawnProcess([binary] + arguments, environment: environment,
                                stdout: scratch.file(logName + ".out"), stderr: scratch.file(logName + ".err"))
    }

    /// True when some process holds `device`'s node (the plugin's lock),
    /// read from /proc/locks: taking the lock to test it could make a player
    /// opening at that instant see EBUSY.
    func isHeld(card: Int) -> Bool {
        isFlocked("\(soundDirectory)/pcmC\(card)D0p")
    }
}

/// Reaps a process started with `spawnProcess` (so it leaves no zombie).
func reap(_ pid: pid_t, timeout: Duration = .seconds(10)) -> Ended? { waitForExit(pid, timeout: timeout) }

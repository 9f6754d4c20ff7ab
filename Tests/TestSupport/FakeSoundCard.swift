import Foundation
import Glibc

/// A private ALSA world for processes a test starts: the named PCMs (`lb0c`,
/// `lb1c`, ...) served by the `monitordtest` ioplug plugin (the test rig's
/// ALSA plugin), each with a state file that decides how the "device"
/// behaves on its next open, and a fake `/dev/snd` whose node `pcmCND0p`
/// (N: the device's index) the plugin flocks while the PCM is open. All its
/// files are in `directory`, which its owner removes.
public final class FakeSoundCard: @unchecked Sendable {
    public let directory: String
    public let devices: [String]
    public var soundDirectory: String { directory + "/snd" }

    public init(in directory: String, devices: [String] = ["lb0c", "lb1c"]) {
        self.directory = directory
        self.devices = devices
        try? FileManager.default.createDirectory(atPath: soundDirectory, withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(atPath: directory + "/home", withIntermediateDirectories: true)
        var config = "pcm_type.monitordtest { lib \"\(Products.testPlugin)\" }\n"
        for (card, name) in devices.enumerated() {
            // `!` replaces a system PCM of that name instead of merging into it.
            config += "pcm.!\(name) { type monitordtest state \"\(stateFile(name))\" device_file \"\(deviceFile(card: card))\" }\n"
            set(name, "ok")
        }
        try? config.write(toFile: directory + "/alsa.conf", atomically: true, encoding: .utf8)
    }

    public func stateFile(_ device: String) -> String { directory + "/state-\(device)" }

    /// The node the plugin flocks while the `card`-th device is open.
    public func deviceFile(card: Int) -> String { soundDirectory + "/pcmC\(card)D0p" }

    /// `ok`, `never-ready`, `fail-open EBUSY`, `fail-hw EINVAL`, ... (grammar
    /// in the plugin's source), read on the device's next open.
    public func set(_ device: String, _ state: String) {
        try? (state + "\n").write(toFile: stateFile(device), atomically: true, encoding: .utf8)
    }

    /// What a process needs in its environment to see this card (and no
    /// ~/.asoundrc).
    public var environment: [String: String] {
        ["ALSA_CONFIG_PATH": "/usr/share/alsa/alsa.conf:\(directory)/alsa.conf", "HOME": directory + "/home"]
    }

    /// This process's environment with `environment` added.
    public var childEnvironment: [String: String] {
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        return merged
    }

    /// Starts a copy of `pcm-holder` named `name` that opens `-o device` and
    /// holds it (and the plugin's lock) until SIGTERM; its output goes to
    /// `LOGNAME.out` and `LOGNAME.err` in `directory`.
    public func startPlayer(named name: String, arguments: [String], logName: String) throws -> SpawnedChild {
        let binary = directory + "/bin-\(logName)/\(name)"
        try FileManager.default.createDirectory(atPath: directory + "/bin-\(logName)", withIntermediateDirectories: true)
        try copyExecutable(Products.pcmHolder, to: binary)
        return try SpawnedChild([binary] + arguments, environment: childEnvironment,
                                stdout: directory + "/\(logName).out", stderr: directory + "/\(logName).err")
    }

    /// True when some process holds the `card`-th device's node (the
    /// plugin's lock), read from /proc/locks: taking the lock to test it
    /// could make a player opening at that instant see EBUSY.
    public func isHeld(card: Int) -> Bool { isFlocked(deviceFile(card: card)) }
}

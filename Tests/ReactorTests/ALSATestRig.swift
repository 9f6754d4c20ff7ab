import CALSA
import Foundation
import Glibc
import Reactor
import TestSupport

/// Test rig for the ALSA pieces: a fake sound device backed by the
/// `monitordtest` ioplug plugin (Sources/ALSATestPlugin), and the
/// `pcm-holder` stand-in player. There is no sound hardware on the build
/// machines; the plugin's state file decides how the "device" behaves.
enum ALSATestRig {
    static var pluginPath: String { Products.testPlugin }
    static var holderPath: String { Products.pcmHolder }

    /// Whether the test products were built next to the test bundle.
    static var productsAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: holderPath) && FileManager.default.fileExists(atPath: pluginPath)
    }

    /// A fresh directory for one test under TMPDIR, with `snd/` as the fake
    /// /dev/snd; removed when the test process exits (in-process devices and
    /// the players of parallel tests may use it until then).
    static func makeDirectory(_ label: String) -> URL {
        let directory = URL(fileURLWithPath: TemporaryFiles.makeDirectory(label))
        try! FileManager.default.createDirectory(at: directory.appendingPathComponent("snd"), withIntermediateDirectories: true)
        return directory
    }

    /// The ALSA configuration text: the plugin type, `mdtest` (a PCM taking
    /// its state file and device file as arguments, so every in-process test
    /// gets its own device without reloading the config), and the given
    /// fixed names (`lb0c`, `lb1c`, ...) with files in `directory`.
    static func configuration(directory: URL?, devices: [String]) -> String {
        var text = """
            pcm_type.monitordtest { lib "\(pluginPath)" }
            pcm.!mdtest {
                @args [ STATE DEVICE ]
                @args.STATE { type string }
                @args.DEVICE { type string }
                type monitordtest
                state $STATE
                device_file $DEVICE
            }
            pcm.!mdtestunlocked {
                @args [ STATE ]
                @args.STATE { type string }
                type monitordtest
                state $STATE
            }

            """ + routeDefinitions
        if let directory {
            for (index, name) in devices.enumerated() {
                let fixed = FixedDevice(directory: directory, name: name, card: index)
                // `!` replaces any system PCM of that name instead of merging into it.
                text += "pcm.!\(name) { type monitordtest state \"\(fixed.stateFile)\" device_file \"\(fixed.deviceFile)\" }\n"
            }
        }
        return text
    }

    /// PCMs for PCMRouteLookup's tests (never opened): AmpliPi's shape
    /// (plug on a dmix with ipc_key 1028), a twin sharing its key on the
    /// same card and one on another card, a longer chain, a named pcm_slave,
    /// ipc_key_add_uid with a subdevice. Cards are numbers: a card name is
    /// looked up among the cards present, and the build machines have none.
    static let routeDefinitions = """
        pcm.mdroute_dmix { type dmix ipc_key 1028 ipc_perm 0666 slave { pcm { type hw card 3 device 0 } period_size 1024 } }
        pcm.mdroute_plug { type plug slave.pcm "mdroute_dmix" }
        pcm.mdroute_twin { type dmix ipc_key 1028 slave.pcm { type hw card 3 device 0 } }
        pcm.mdroute_other_card { type dmix ipc_key 1028 slave.pcm { type hw card 4 device 0 } }
        pcm.mdroute_route { type route slave.pcm "mdroute_plug" ttable.0.0 1 }
        pcm.mdroute_chain { type softvol slave.pcm "mdroute_route" control.name "Route Test" }
        pcm.mdroute_uid { type dmix ipc_key 2048 ipc_key_add_uid true slave.pcm { type hw card 1 device 1 subdevice 1 } }
        pcm_slave.mdroute_slave { pcm { type hw card 2 device 0 } }
        pcm.mdroute_named_slave { type dsnoop ipc_key 5000 slave mdroute_slave }
        pcm.mdroute_plain { type plug slave { pcm { type hw card 6 device 2 } } }
        pcm.mdroute_loop { type plug slave.pcm "mdroute_loop" }

        """

    /// Writes `alsa.conf` into `directory` for child processes and returns
    /// the environment that makes them use it (ALSA_CONFIG_PATH and an
    /// empty HOME, so no ~/.asoundrc interferes).
    static func childEnvironment(directory: URL, devices: [String] = ["lb0c", "lb1c"]) -> [String: String] {
        let path = directory.appendingPathComponent("alsa.conf").path
        try! configuration(directory: directory, devices: devices).write(toFile: path, atomically: true, encoding: .utf8)
        let home = directory.appendingPathComponent("home")
        try? FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["ALSA_CONFIG_PATH"] = "/usr/share/alsa/alsa.conf:\(path)"
        environment["HOME"] = home.path
        return environment
    }

    /// Points this test process's alsa-lib at the rig's configuration. Done
    /// once, before the first open; alsa-lib caches its configuration, so
    /// the global cache is dropped after changing the path.
    static let installedInProcess: Bool = {
        let directory = makeDirectory("alsa-config")
        let path = directory.appendingPathComponent("alsa.conf").path
        try! configuration(directory: nil, devices: []).write(toFile: path, atomically: true, encoding: .utf8)
        setenv("ALSA_CONFIG_PATH", "/usr/share/alsa/alsa.conf:\(path)", 1)
        _ = snd_config_update_free_global()
        return true
    }()

    /// A fake device for in-process tests, opened as
    /// `mdtest:STATE="...",DEVICE="..."`.
    static func makeDevice(_ label: String, state: String) -> FakeDevice {
        _ = installedInProcess
        let device = FakeDevice(directory: makeDirectory(label))
        device.setState(state)
        return device
    }
}

/// One plugin instance's files: the state file it reads on every open and
/// the device file it flock()s while open.
struct FakeDevice {
    let stateFile: String
    let deviceFile: String

    init(directory: URL) {
        stateFile = directory.appendingPathComponent("state").path
        deviceFile = directory.appendingPathComponent("snd/pcmC0D0p").path
    }

    /// The PCM name for snd_pcm_open or `-o`.
    var pcmName: String { "mdtest:STATE=\"\(stateFile)\",DEVICE=\"\(deviceFile)\"" }

    /// The same device without the lock on the device file. For loops of
    /// in-process opens: a spawn by a parallel test shares the locked file
    /// description between its fork and its exec, so an open at that moment
    /// would see EBUSY.
    var unlockedPCMName: String { "mdtestunlocked:STATE=\"\(stateFile)\"" }

    func setState(_ line: String) {
        try! (line + "\n").write(toFile: stateFile, atomically: true, encoding: .utf8)
    }

    /// True if nobody holds the plugin's lock on the device file.
    var isFree: Bool { Self.lockIsFree(deviceFile) }

    /// Read from /proc/locks: taking the lock to test it could make a probe
    /// opening at that instant see EBUSY.
    static func lockIsFree(_ path: String) -> Bool { !isFlocked(path) }
}

/// `lb0c` → state-lb0c and snd/pcmC0D0p, `lb1c` → state-lb1c and snd/pcmC1D0p.
struct FixedDevice {
    let stateFile: String
    let deviceFile: String

    init(directory: URL, name: String, card: Int) {
        stateFile = directory.appendingPathComponent("state-\(name)").path
        deviceFile = directory.appendingPathComponent("snd/pcmC\(card)D0p").path
    }
}

/// A running `pcm-holder` (possibly copied under another name).
final class PlayerProcess {
    let process: Process
    var pid: Int32 { process.processIdentifier }

    /// Launches and waits until it printed "ready" (it holds the PCM).
    /// Returns nil if it exited instead, with its exit status in `failure`.
    static func launch(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> PlayerProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let player = PlayerProcess(process: process)
        guard Self.readReady(output.fileHandleForReading.fileDescriptor, timeout: 5) else {
            player.kill(SIGKILL)
            _ = player.waitForExit(timeout: 5)
            throw RigError.notReady(executable, arguments)
        }
        return player
    }

    private init(process: Process) {
        self.process = process
    }

    deinit {
        if process.isRunning {
            kill(SIGKILL)
            process.waitUntilExit()
        }
    }

    func kill(_ signal: Int32) {
        _ = Glibc.kill(pid, signal)
    }

    /// The exit status (or the signal number + 128) once it exited, or nil.
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning { return nil }
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }

    private static func readReady(_ fd: Int32, timeout: Double) -> Bool {
        var collected = ""
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 50) >= 0 else { return false }
            guard descriptor.revents != 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 256)
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { return false }
            collected += String(decoding: buffer[0..<count], as: UTF8.self)
            if collected.contains("ready\n") { return true }
        }
        return false
    }
}

enum RigError: Error {
    case notReady(String, [String])
}

/// What happened while driving one probe.
struct ProbeRun {
    var progress: ProbeProgress
    /// Readiness notifications handed to the probe.
    var wakeups: Int
    var elapsedSeconds: Double
    /// CPU time of this thread, probe and poll loop together.
    var cpuSeconds: Double
}

/// Drives a probe the way the reactor does (poll(2) standing in for epoll):
/// start, then hand every ready descriptor to `handle`, until the probe is
/// no longer pending or `timeout` seconds passed.
func drive(_ probe: PCMProbe, timeout: Double) -> ProbeRun {
    let startCPU = threadCPUSeconds()
    let startTime = monotonicSeconds()
    var progress = probe.start()
    var wakeups = 0
    while progress == .pending {
        let remaining = timeout - (monotonicSeconds() - startTime)
        if remaining <= 0 { break }
        var descriptors = probe.interests.map { pollfd(fd: $0.fd, events: Int16(truncatingIfNeeded: $0.events), revents: 0) }
        let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(remaining * 1000) + 1)
        if ready <= 0 { continue }
        for descriptor in descriptors where descriptor.revents != 0 && progress == .pending {
            wakeups += 1
            progress = probe.handle(fd: descriptor.fd, events: UInt32(UInt16(bitPattern: descriptor.revents)))
        }
    }
    return ProbeRun(progress: progress, wakeups: wakeups,
                    elapsedSeconds: monotonicSeconds() - startTime,
                    cpuSeconds: threadCPUSeconds() - startCPU)
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

func threadCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// The pid the stale-player tests exclude as "monitord itself". Not this
/// test process: the players are its children, and processes whose parent is
/// monitord are excluded too. Its parent (the test driver) starts none of them.
let monitordStandIn = getppid()

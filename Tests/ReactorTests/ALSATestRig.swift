import CALSA
import Foundation
import Glibc
import Reactor
import TestSupport

/// Test rig for the ALSA pieces: a fake sound device backed by the
/// `monitordtest` ioplug plugin (Tests/Rig/MonitordTestPCM), and the
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

    /// This process's own ALSA configuration: the plugin type, `mdtest` (a
    /// PCM taking its state file and device file as arguments, so every
    /// in-process test gets its own device without reloading the config) and
    /// the route definitions. Child processes see a `FakeSoundCard` instead.
    static let inProcessConfiguration: String = {
        """
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
    }()

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

    /// A `FakeSoundCard` for child processes in a fresh directory (removed
    /// at the test process's exit: players of parallel tests may use it
    /// until then).
    static func card(_ label: String, devices: [String] = ["lb0c", "lb1c"]) -> FakeSoundCard {
        FakeSoundCard(in: makeDirectory(label).path, devices: devices)
    }

    /// Points this test process's alsa-lib at the rig's configuration. Done
    /// once, before the first open; alsa-lib caches its configuration, so
    /// the global cache is dropped after changing the path.
    static let installedInProcess: Bool = {
        let directory = makeDirectory("alsa-config")
        let path = directory.appendingPathComponent("alsa.conf").path
        try! inProcessConfiguration.write(toFile: path, atomically: true, encoding: .utf8)
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

/// A running `pcm-holder` (possibly copied under another name), a
/// `SpawnedChild`: SIGKILLed and reaped when dropped.
final class PlayerProcess {
    let child: SpawnedChild
    let arguments: [String]
    var pid: pid_t { child.pid }

    /// Launches and waits until it printed "ready" (it holds the PCM); throws
    /// `RigError.notReady` if it exited or stayed silent instead.
    static func launch(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> PlayerProcess {
        let directory = TemporaryFiles.makeDirectory("player")
        defer { TemporaryFiles.remove(directory) }
        let output = directory + "/stdout"
        let child = try SpawnedChild([executable] + arguments, environment: environment, stdout: output, stderr: "/dev/null")
        let player = PlayerProcess(child: child, arguments: arguments)
        let ready = { (try? String(contentsOfFile: output, encoding: .utf8))?.contains("ready\n") == true }
        eventually(timeout: .seconds(5)) { ready() || player.waitForExit(timeout: .zero) != nil }
        guard ready() else { throw RigError.notReady(executable, arguments) }
        return player
    }

    private init(child: SpawnedChild, arguments: [String]) {
        self.child = child
        self.arguments = arguments
    }

    /// Sends `signal` unless it was reaped.
    func kill(_ signal: Int32) { child.signal(signal) }

    /// How it ended, once it has (reaped then); nil while it runs after `timeout`.
    func waitForExit(timeout: Duration) -> Ended? { child.wait(timeout: timeout) }
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

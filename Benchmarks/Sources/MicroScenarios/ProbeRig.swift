import Reactor
import Supervision
#if canImport(Glibc)
import Glibc
#endif

/// Readiness probes against the `monitordtest` plugin
/// (Tests/Rig/MonitordTestPCM, built next to this executable as
/// libMonitordTestPCM.so) and alsa-lib's `null` PCM, and the same against an
/// `aplay` subprocess for comparison.
///
/// Like the tests' ALSATestRig, it writes a private ALSA configuration and
/// points ALSA_CONFIG_PATH at it; that has to happen before the process's
/// first snd_* call, so create the rig before any probe.
public final class ProbeRig {
    public enum Mode: String, Sendable {
        /// Opens and plays at real time (timerfd-paced periods).
        case ok
        /// snd_pcm_open fails with EBUSY, as for a device held by a player.
        case busy = "fail-open EBUSY"
    }

    public let directory: String
    public let stateFile: String
    public let deviceFile: String
    public let pluginPath: String

    /// The plugin PCM, named in the private configuration.
    public static let pcmName = "mdbench"

    public init() {
        pluginPath = Self.findPlugin()
        // Under $TMPDIR when set: run-micro points it at a folder it removes
        // at the end, since the benchmark process exits without deinit.
        let temporary = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(temporary)/monitord-bench-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        mkdir(directory + "/snd", 0o755)
        stateFile = directory + "/state"
        deviceFile = directory + "/snd/pcmC0D0p"
        let configuration = """
            pcm_type.monitordtest { lib "\(pluginPath)" }
            pcm.!\(Self.pcmName) { type monitordtest state "\(stateFile)" device_file "\(deviceFile)" }

            """
        let configPath = directory + "/alsa.conf"
        write(configuration, to: configPath)
        setenv("ALSA_CONFIG_PATH", "/usr/share/alsa/alsa.conf:" + configPath, 1)
        // No ~/.asoundrc for aplay either.
        mkdir(directory + "/home", 0o755)
        setenv("HOME", directory + "/home", 1)
        set(.ok)
    }

    deinit {
        for name in ["state", "snd/pcmC0D0p", "alsa.conf"] { unlink(directory + "/" + name) }
        rmdir(directory + "/snd")
        rmdir(directory + "/home")
        rmdir(directory)
    }

    public func set(_ mode: Mode) {
        write(mode.rawValue + "\n", to: stateFile)
    }

    /// MONITORD_TEST_PCM, or libMonitordTestPCM.so beside this executable.
    private static func findPlugin() -> String {
        if let path = getenv("MONITORD_TEST_PCM") { return String(cString: path) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
        precondition(length > 0, "cannot read /proc/self/exe")
        let exe = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let directory = String(exe[..<(exe.lastIndex(of: "/") ?? exe.endIndex)])
        let path = directory + "/libMonitordTestPCM.so"
        precondition(access(path, R_OK) == 0, "\(path) is missing: build the package (it depends on MonitordTestPCM)")
        return path
    }

    private func write(_ text: String, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot write \(path)")
        _ = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }
}

/// One probe driven to its end the way the reactor drives it: start, then
/// hand each ready descriptor of `probe.interests` to `handle` (poll(2)
/// standing in for epoll), and `pump()` for a PCM whose descriptors never
/// block (the null plugin's). Returns the outcome and the wakeups it took.
@inline(never)
public func runProbe(_ parameters: PCMParameters, timeoutMilliseconds: Int32 = 5_000) -> (ProbeProgress, wakeups: Int) {
    let probe = PCMProbe(parameters)
    var progress = probe.start()
    var wakeups = 0
    let deadline = MonotonicInstant.now() + .milliseconds(Int64(timeoutMilliseconds))
    while progress == .pending {
        let interests = probe.interests
        let remaining = deadline - MonotonicInstant.now()
        guard remaining > .zero else { break }
        var descriptors = (pollfd(), pollfd(), pollfd(), pollfd())
        let count = min(interests.count, 4)
        let ready = withUnsafeMutableBytes(of: &descriptors) { raw -> Int32 in
            let fds = raw.bindMemory(to: pollfd.self)
            for index in 0..<count {
                fds[index] = pollfd(fd: interests[index].fd, events: Int16(truncatingIfNeeded: interests[index].events), revents: 0)
            }
            let milliseconds = Int32(clamping: remaining.saturatingNanoseconds / 1_000_000 + 1)
            let ready = poll(fds.baseAddress, nfds_t(count), milliseconds)
            guard ready > 0 else { return ready }
            for index in 0..<count where fds[index].revents != 0 && progress == .pending {
                wakeups += 1
                progress = probe.handle(fd: fds[index].fd, events: UInt32(UInt16(bitPattern: fds[index].revents)))
            }
            return ready
        }
        if count == 0 || ready < 0 { progress = probe.pump() }
    }
    probe.close()
    return (progress, wakeups)
}

/// The alternative to a probe: spawn `aplay` to play `seconds` of silence
/// to `device` and wait for it. Returns aplay's exit code; the child's CPU
/// shows in `childrenCPUMicroseconds()`.
public final class AplayProbe {
    private let cycle: RestartCycle
    private let devNull: Int32

    public init(device: String, seconds: Int = 1) throws {
        devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        // By absolute path when it is there: a PATH search costs aplay a
        // few failed execve calls that are not aplay's own cost.
        let aplay = access("/usr/bin/aplay", X_OK) == 0 ? "/usr/bin/aplay" : "aplay"
        cycle = try RestartCycle([
            aplay, "-q", "-d", String(seconds), "-f", "S16_LE", "-c", "2", "-r", "48000",
            "-D", device, "/dev/zero",
        ])
    }

    deinit {
        close(devNull)
    }

    /// aplay's complaints (a busy device) go to /dev/null: its stderr is
    /// pointed there while it runs, and ours is put back after.
    @inline(never)
    public func run() throws -> Int32 {
        let saved = dup(2)
        dup2(devNull, 2)
        defer {
            dup2(saved, 2)
            close(saved)
        }
        return try cycle.cycle()
    }
}

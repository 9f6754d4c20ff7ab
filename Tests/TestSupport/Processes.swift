import CKernelShim
import Foundation
import Glibc

/// How a process ended, as waitid reports it.
public enum Ended: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var description: String {
        switch self {
        case .exited(let code): return "exit \(code)"
        case .signaled(let signal): return "signal \(signal)"
        }
    }
}

/// Starts a process with posix_spawn: default signal dispositions and an
/// empty mask (the test runner's threads may have other masks), and no
/// descriptor above 2 (the test runner has stray ones, which would shift the
/// child's own descriptors and the limits the fault tests compute). An exec
/// that meets ETXTBSY (a copy still open for writing in a child another test
/// just forked) is retried.
public func spawnProcess(_ argv: [String], environment: [String: String], stdin: String = "/dev/null",
                  stdout: String, stderr: String) throws -> pid_t {
    try spawnProcess(raw: argv.map { Array($0.utf8) }, environment: environment, stdin: stdin, stdout: stdout, stderr: stderr)
}

/// `spawnProcess` with argv as raw bytes (Strings cannot hold invalid UTF-8).
public func spawnProcess(raw argv: [[UInt8]], environment: [String: String], stdin: String = "/dev/null",
                  stdout: String, stderr: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    if let closeFrom = addCloseFrom { _ = closeFrom(&actions, 3) }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { word in
        let copy = UnsafeMutablePointer<CChar>.allocate(capacity: word.count + 1)
        for (index, byte) in word.enumerated() { copy[index] = CChar(bitPattern: byte) }
        copy[word.count] = 0
        return copy
    } + [nil]
    let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        cArgs.forEach { $0?.deallocate() }
        cEnv.forEach { free($0) }
    }
    var pid: pid_t = 0
    var rc: Int32 = 0
    for _ in 0..<50 {
        rc = posix_spawn(&pid, cArgs[0]!, &actions, &attributes, cArgs, cEnv)
        if rc != ETXTBSY { break }
        usleep(20_000)
    }
    if rc != 0 { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
    return pid
}

/// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift's
/// Glibc module does not import; looked up at run time.
private let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}()

/// Copies an executable through a close-on-exec descriptor, so that a child
/// forked meanwhile by a parallel test does not keep it open for writing.
public func copyExecutable(_ source: String, to target: String) throws {
    guard let data = FileManager.default.contents(atPath: source) else { throw POSIXError(.ENOENT) }
    let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    defer { close(fd) }
    // Executable by everyone whatever the umask (copies are run as another user).
    guard fchmod(fd, 0o755) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == data.count else { throw POSIXError(.EIO) }
}

/// Reaps a child of the test process, waiting at most `timeout` (on its
/// pidfd: no polling). On timeout the result is nil, and the child is
/// SIGKILLed and reaped unless `killOnTimeout` is false (then it is left
/// running, for a later call).
public func waitForExit(_ pid: pid_t, timeout: Duration = .seconds(10), killOnTimeout: Bool = true) -> Ended? {
    let pidfd = ksh_pidfd_open(pid)
    guard pidfd >= 0 else { return nil }
    defer { close(pidfd) }
    if let ended = waitForExit(pidfd: pidfd, timeout: timeout) { return ended }
    guard killOnTimeout else { return nil }
    _ = ksh_pidfd_send_signal(pidfd, SIGKILL)
    var code: Int32 = 0
    var status: Int32 = 0
    _ = ksh_pidfd_reap(pidfd, 1, &code, &status)
    return nil
}

/// Reaps the child `pidfd` refers to once it exits, waiting at most
/// `timeout` for that; nil, with nothing reaped, if it still runs.
public func waitForExit(pidfd: Int32, timeout: Duration) -> Ended? {
    var descriptor = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
    let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
    guard poll(&descriptor, 1, ms) == 1 else { return nil }
    var code: Int32 = 0
    var status: Int32 = 0
    guard ksh_pidfd_reap(pidfd, 1, &code, &status) == 1 else { return nil }
    return code == KSH_CLD_EXITED ? .exited(status) : .signaled(status)
}

/// What a command run to its end left: how it ended (nil: it outlived the
/// timeout and was killed), and its standard output and error.
public struct Finished: Sendable {
    public var ended: Ended?
    public var stdout: String
    public var stderr: String
}

/// Runs `argv` to its end with `spawnProcess`, its output captured in a
/// temporary directory that is removed before this returns.
public func runCapturing(_ argv: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
                         stdin: String = "/dev/null", timeout: Duration = .seconds(20)) throws -> Finished {
    let directory = TemporaryFiles.makeDirectory("run")
    defer { TemporaryFiles.remove(directory) }
    let pid = try spawnProcess(argv, environment: environment, stdin: stdin,
                               stdout: directory + "/stdout", stderr: directory + "/stderr")
    let ended = waitForExit(pid, timeout: timeout)
    func read(_ name: String) -> String {
        (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? ""
    }
    return Finished(ended: ended, stdout: read("stdout"), stderr: read("stderr"))
}

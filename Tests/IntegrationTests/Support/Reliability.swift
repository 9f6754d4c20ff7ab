import CEpoll
import Foundation
import Glibc

/// Helpers for the soak, fault and stale-kill safety suites.

/// A process started from a full argv (a wrapper such as `prlimit` or
/// `setpriv` that execs monitord keeps the pid), stderr to a file.
final class Launched: @unchecked Sendable {
    let pid: pid_t
    let pidfd: Int32
    let logPath: String
    private var ended: Ended?

    init(_ argv: [String], scratch: Scratch, environment extra: [String: String] = [:],
         logName: String = "monitord.log", stderr: String? = nil) throws {
        logPath = stderr ?? scratch.file(logName)
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "JOURNAL_STREAM")
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        for (key, value) in extra { environment[key] = value }
        pid = try spawnClean(argv, environment: environment, stdout: scratch.file(logName + ".stdout"), stderr: logPath)
        pidfd = cep_pidfd_open(pid)
        precondition(pidfd >= 0, "pidfd_open failed")
    }

    deinit {
        if ended == nil {
            kill(pid, SIGKILL)
            _ = wait(timeout: .seconds(5))
        }
        close(pidfd)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var logLines: [String] { log.split(separator: "\n").map(String.init) }
    func count(_ fragment: String) -> Int { logLines.filter { $0.contains(fragment) }.count }

    @discardableResult
    func waitForLog(_ fragment: String, count: Int = 1, timeout: Duration = .seconds(10)) -> Bool {
        eventually(timeout: timeout) { self.count(fragment) >= count }
    }

    func signal(_ signal: Int32) { _ = cep_pidfd_send_signal(pidfd, signal) }

    var isRunning: Bool {
        var descriptor = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        return ended == nil && poll(&descriptor, 1, 0) == 0
    }

    func wait(timeout: Duration = .seconds(10)) -> Ended? {
        if let ended { return ended }
        var descriptor = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&descriptor, 1, ms) == 1 else { return nil }
        var code: Int32 = 0
        var status: Int32 = 0
        guard cep_pidfd_reap(pidfd, 1, &code, &status) == 1 else { return nil }
        ended = code == CEP_CLD_EXITED ? .exited(status) : .signaled(status)
        return ended
    }

    var startedPIDs: [pid_t] { Self.startedPIDs(in: logLines) }

    static func startedPIDs(in lines: [String]) -> [pid_t] {
        lines.compactMap { line -> pid_t? in
            guard line.contains("started "), let range = line.range(of: "(pid ") else { return nil }
            return pid_t(line[range.upperBound...].prefix { $0.isNumber })
        }
    }
}

/// What a process looks like from /proc, for leak checks.
struct Footprint: Equatable, CustomStringConvertible {
    /// Open descriptors other than pidfds (a child's pidfd exists only while it runs).
    var descriptors: [String]
    var rssAnon: String?
    var threads: String?

    init(of pid: pid_t) {
        let directory = "/proc/\(pid)/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        descriptors = names.compactMap { name -> String? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + name),
                  !target.contains("pidfd") else { return nil }
            return "\(name)->\(target)"
        }.sorted()
        rssAnon = ProcessTable.status(of: pid, field: "RssAnon")
        threads = ProcessTable.status(of: pid, field: "Threads")
    }

    var description: String { "\(descriptors.count) fds \(descriptors.count < 10 ? "\(descriptors)" : ""), RssAnon \(rssAnon ?? "?"), threads \(threads ?? "?")" }
}

/// A footprint that is not caught in the middle of a probe: two samples a
/// few milliseconds apart agree (a leak persists, a probe's descriptors do not).
func settledFootprint(of pid: pid_t) -> Footprint {
    var previous = Footprint(of: pid)
    for _ in 0..<100 {
        usleep(3_000)
        let next = Footprint(of: pid)
        if next == previous { return next }
        previous = next
    }
    return previous
}

/// Zombie children that stay unreaped: a zombie seen twice, 50 ms apart.
func lingeringZombies(of pid: pid_t) -> Set<pid_t> {
    let zombies = Set(ProcessTable.children(of: pid).filter { ProcessTable.state(of: $0) == "Z" })
    guard !zombies.isEmpty else { return [] }
    usleep(50_000)
    return zombies.filter { ProcessTable.parent(of: $0) == pid && ProcessTable.state(of: $0) == "Z" }
}

/// The `key=value` fields of a status file (values still percent-encoded).
func statusFields(_ path: String) -> [String: String] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
    var fields: [String: String] = [:]
    for pair in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
        guard let equals = pair.firstIndex(of: "=") else { continue }
        fields[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return fields
}

/// Reads a growing log file incrementally and hands over complete lines.
final class LogTail {
    let path: String
    private var offset: UInt64 = 0
    private var partial = Data()

    init(_ path: String) { self.path = path }

    func newLines() -> [Substring] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let data = handle.readDataToEndOfFile()
        offset += UInt64(data.count)
        partial.append(data)
        guard let lastNewline = partial.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let complete = partial[partial.startIndex...lastNewline]
        let text = String(decoding: complete, as: UTF8.self)
        partial = Data(partial[partial.index(after: lastNewline)...])
        return text.split(separator: "\n")
    }
}

/// Runs `argv` and requires it to exit 0 (setup steps such as prlimit --pid).
func run(_ argv: [String], scratch: Scratch) throws {
    let (ended, err) = try runToCompletion(argv, scratch: scratch)
    guard ended == .exited(0) else {
        throw POSIXError(.EIO, userInfo: [NSLocalizedDescriptionKey: "\(argv) ended \(String(describing: ended)): \(err)"])
    }
}

/// The uid tests use for "another user" (nobody).
let otherUID = "65534"
let asOtherUser = ["/usr/bin/setpriv", "--reuid=\(otherUID)", "--regid=\(otherUID)", "--clear-groups"]

/// Lets another user reach a scratch directory (mkdtemp makes it 0700).
func openToEveryone(_ path: String) {
    chmod(path, 0o755)
}

/// The path with symbolic links and repeated slashes resolved, as /proc shows it.
func canonicalPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// Like `spawnProcess`, but the new process inherits no descriptor above 2
/// (the test runner has stray ones, which would shift monitord's own
/// descriptors and the limits the fault tests compute), and an exec that
/// meets ETXTBSY (a copy still open for writing in a child another test just
/// forked) is retried.
func spawnClean(_ argv: [String], environment: [String: String], stdin: String = "/dev/null",
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
    let cArgs = argv.map { strdup($0) } + [nil]
    let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        cArgs.forEach { free($0) }
        cEnv.forEach { free($0) }
    }
    var pid: pid_t = 0
    var rc: Int32 = 0
    for _ in 0..<50 {
        rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        if rc != ETXTBSY { break }
        usleep(20_000)
    }
    if rc != 0 { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
    return pid
}

/// Copies an executable through a close-on-exec descriptor, so that a child
/// forked meanwhile by a parallel test does not keep it open for writing.
func copyExecutable(_ source: String, to target: String) throws {
    guard let data = FileManager.default.contents(atPath: source) else { throw POSIXError(.ENOENT) }
    let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    defer { close(fd) }
    let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == data.count else { throw POSIXError(.EIO) }
}

/// `FakeSoundCard.startPlayer` with a close-on-exec copy and a clean spawn.
func startHolder(_ card: FakeSoundCard, named name: String, arguments: [String], logName: String) throws -> pid_t {
    let directory = card.scratch.file("bin-\(logName)")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let binary = directory + "/" + name
    try copyExecutable(Products.pcmHolder, to: binary)
    var environment = ProcessInfo.processInfo.environment
    for (key, value) in card.environment { environment[key] = value }
    return try spawnClean([binary] + arguments, environment: environment,
                          stdout: card.scratch.file(logName + ".out"), stderr: card.scratch.file(logName + ".err"))
}

/// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift's
/// Glibc module does not import; looked up at run time.
private let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
}()

/// `816 kB` -> 816.
func kilobytes(_ field: String?) -> Int? {
    guard let field, let number = field.split(separator: " ").first else { return nil }
    return Int(number)
}

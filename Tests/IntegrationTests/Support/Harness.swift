import CKernelShim
import Foundation
import Glibc
import Testing
import TestSupport

/// A private temporary directory under TMPDIR, removed when the test ends
/// (and at the test process's exit if a test failed before releasing it).
final class Scratch: @unchecked Sendable {
    let path: String

    init() {
        path = TemporaryFiles.makeDirectory("test")
    }

    deinit { TemporaryFiles.remove(path) }

    func file(_ name: String) -> String { path + "/" + name }

    /// Writes an executable shell script and returns its path.
    @discardableResult
    func script(_ name: String, _ body: String) -> String {
        let target = file(name)
        // O_CLOEXEC: a process forked by a parallel test while this descriptor
        // is open must not keep it open for writing (exec would fail, ETXTBSY).
        let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        precondition(fd >= 0, "cannot create \(target)")
        let bytes = Array(("#!/bin/sh\n" + body + "\n").utf8)
        precondition(write(fd, bytes, bytes.count) == bytes.count)
        close(fd)
        return target
    }

    /// A child that runs `traps` (shell `trap` lines), says it is ready, then
    /// idles until killed; `waitUntilReady()` returns once the traps are set.
    func idlingScript(_ name: String, traps: String) -> String {
        script(name, """
        \(traps)
        touch "\(file("ready"))"
        while :; do sleep 0.05; done
        """)
    }

    func waitUntilReady(timeout: Duration = .seconds(10)) -> Bool {
        eventually(timeout: timeout) { FileManager.default.fileExists(atPath: self.file("ready")) }
    }

    func read(_ name: String) -> String {
        (try? String(contentsOfFile: file(name), encoding: .utf8)) ?? ""
    }

    func lines(_ name: String) -> [String] {
        read(name).split(separator: "\n").map(String.init)
    }
}

/// A process started by a test from a full argv (a wrapper such as `prlimit`
/// or `setpriv` that execs monitord keeps the pid), stderr captured to a file.
class Launched: @unchecked Sendable {
    let pid: pid_t
    let pidfd: Int32
    let scratch: Scratch
    let logPath: String
    private var ended: Ended?

    init(_ argv: [String], scratch: Scratch, environment extra: [String: String] = [:],
         logName: String = "monitord.log", stderr: String? = nil, stdin: String = "/dev/null") throws {
        self.scratch = scratch
        logPath = stderr ?? scratch.file(logName)
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "JOURNAL_STREAM")
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        for (key, value) in extra { environment[key] = value }
        pid = try spawnProcess(argv, environment: environment, stdin: stdin,
                               stdout: scratch.file(logName + ".stdout"), stderr: logPath)
        pidfd = ksh_pidfd_open(pid)
        precondition(pidfd >= 0, "pidfd_open failed")
    }

    deinit {
        if ended == nil {
            signal(SIGKILL)
            _ = wait(timeout: .seconds(5))
        }
        close(pidfd)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var logLines: [String] { log.split(separator: "\n").map(String.init) }

    func count(_ fragment: String) -> Int { logLines.filter { $0.contains(fragment) }.count }

    /// Waits until the log has at least `count` lines containing `fragment`.
    @discardableResult
    func waitForLog(_ fragment: String, count: Int = 1, timeout: Duration = .seconds(10)) -> Bool {
        eventually(timeout: timeout) { self.count(fragment) >= count }
    }

    func signal(_ signal: Int32) { _ = ksh_pidfd_send_signal(pidfd, signal) }

    var isRunning: Bool {
        var descriptor = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        return ended == nil && poll(&descriptor, 1, 0) == 0
    }

    /// Reaps the process, waiting at most `timeout`; nil if it is still running.
    func wait(timeout: Duration = .seconds(10)) -> Ended? {
        if let ended { return ended }
        ended = waitForExit(pidfd: pidfd, timeout: timeout)
        return ended
    }

    /// The pids of the children monitord logged as started, in order.
    var startedPIDs: [pid_t] { Self.startedPIDs(in: logLines) }

    /// The first child's pid, once monitord has logged its start: a child
    /// can be running, even ready, before that line is written (monitord
    /// logs after the spawn returns, slower under a sanitizer).
    func firstStartedPID(timeout: Duration = .seconds(10)) -> pid_t? {
        var pid: pid_t?
        eventually(timeout: timeout) {
            pid = startedPIDs.first
            return pid != nil
        }
        return pid
    }

    static func startedPIDs(in lines: [String]) -> [pid_t] {
        lines.compactMap { line -> pid_t? in
            guard line.contains("started "), let range = line.range(of: "(pid ") else { return nil }
            return pid_t(line[range.upperBound...].prefix { $0.isNumber })
        }
    }

    /// What the process's open descriptors point at right now.
    var descriptorTargets: [String] {
        let directory = "/proc/\(pid)/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + $0) }
    }

    /// Open descriptors other than those that exist only while a child runs
    /// or is being spawned (see `Sanitizer.isTransient`).
    var openDescriptors: Int { descriptorTargets.filter { !Sanitizer.isTransient($0) }.count }

    var openPidfds: Int { descriptorTargets.filter { $0.contains("pidfd") }.count }

    /// Children that are zombies right now.
}

/// The real `monitord` binary started with `arguments`.
final class Monitord: Launched, @unchecked Sendable {
    init(_ arguments: [String], scratch: Scratch, environment extra: [String: String] = [:],
         logName: String = "monitord.log", stdin: String = "/dev/null") throws {
        try super.init([Products.monitord] + arguments, scratch: scratch, environment: extra,
                       logName: logName, stdin: stdin)
    }
}

/// Runs a command to completion and returns its exit status and stderr.
func runToCompletion(_ argv: [String], scratch: Scratch, timeout: Duration = .seconds(20)) throws -> (Ended?, String) {
    let errPath = scratch.file("run-\(UInt32.random(in: 0...UInt32.max)).err")
    let pid = try spawnProcess(argv, environment: ProcessInfo.processInfo.environment,
                               stdout: scratch.file("run.out"), stderr: errPath)
    let ended = waitForExit(pid, timeout: timeout)
    return (ended, (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// Reading /proc for the checks the tests make.
enum ProcessTable {
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        return state(of: pid) != "Z"
    }

    /// The one-letter state from /proc/PID/stat (nil when gone).
    static func state(of pid: pid_t) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(close, offsetBy: 2)...].first
    }

    static func parent(of pid: pid_t) -> pid_t? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        return fields.count > 1 ? pid_t(fields[1]) : nil
    }

    static func children(of pid: pid_t) -> [pid_t] {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return all.compactMap { pid_t($0) }.filter { parent(of: $0) == pid }
    }

    /// Members of a process group that are still alive.
    static func groupIsEmpty(_ pgid: pid_t) -> Bool {
        if kill(-pgid, 0) != 0 { return true }
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        // Zombies awaiting a reaper still count for kill(); only live ones matter.
        return !all.compactMap { pid_t($0) }.contains { getpgid($0) == pgid && state(of: $0) != "Z" }
    }

    static func status(of pid: pid_t, field: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}

/// The sanitizer monitord and the tests were built with (`scripts/sanitize`
/// exports MONITORD_SANITIZER).
enum Sanitizer {
    static var kind: String? { ProcessInfo.processInfo.environment["MONITORD_SANITIZER"] }

    /// ASan's allocator (quarantine, shadow) and TSan's shadow memory grow
    /// resident memory without any leak: memory-growth checks are meaningless
    /// there (LSan covers leaks), while descriptor, thread, zombie and log
    /// checks still apply.
    static var changesMemory: Bool { kind == "address" || kind == "thread" }

    /// Descriptors that exist only around one child: its pidfd (while it
    /// runs), and under TSan the exec-report pipe of the fork-based spawn
    /// (open while the slow instrumented exec runs). Neither exists in a
    /// production build between spawns.
    static func isTransient(_ target: String) -> Bool {
        target.contains("pidfd") || (kind == "thread" && target.hasPrefix("pipe:"))
    }
}

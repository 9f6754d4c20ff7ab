import CKernelShim
import Foundation
import Glibc
import TestSupport

/// Helpers for the soak, fault and stale-kill safety suites.

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
                  !Sanitizer.isTransient(target) else { return nil }
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

/// A footprint taken between two probes: settled, and holding none of the
/// descriptors a probe opens for its moment (`duringProbe`). With probes a
/// millisecond apart, a settled sample can still fall inside one on a loaded
/// machine. A probe's descriptors come and go while a leaked one is in every
/// sample: after `attempts` samples that all hold one, the last is returned,
/// and the caller's comparison shows the leak.
func footprintBetweenProbes(of pid: pid_t, attempts: Int = 200, duringProbe: (String) -> Bool) -> Footprint {
    var footprint = settledFootprint(of: pid)
    var attempt = 1
    while attempt < attempts && footprint.descriptors.contains(where: duringProbe) {
        usleep(2_000)
        footprint = settledFootprint(of: pid)
        attempt += 1
    }
    return footprint
}

/// Zombie children monitord left unreaped. monitord reaps each child before
/// it starts the next, so a zombie still there once a newer child exists is
/// a leak; so is one still there after 10 s with no newer child. Judged by
/// that order, not by a time window (a loaded machine may not run monitord
/// for a while).
func lingeringZombies(of pid: pid_t) -> Set<pid_t> {
    let zombies = Set(ProcessTable.children(of: pid).filter { ProcessTable.state(of: $0) == "Z" })
    guard !zombies.isEmpty else { return [] }
    func stillZombies() -> Set<pid_t> {
        zombies.filter { ProcessTable.parent(of: $0) == pid && ProcessTable.state(of: $0) == "Z" }
    }
    eventually(timeout: .seconds(10)) {
        stillZombies().isEmpty || ProcessTable.children(of: pid).contains { !zombies.contains($0) }
    }
    // Read again after the newer child was seen: a zombie reaped meanwhile is gone.
    return stillZombies()
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

/// A directory another user can reach, for what that user must execute: a
/// fresh one under /tmp (not TMPDIR), mode 0755, removed when released, and
/// at the test process's exit at the latest. Products and scratch
/// directories may sit below a 0700 directory (a clone in /root or in
/// `mktemp -d`, the private TMPDIR scripts/test gives the suite) that
/// another user cannot traverse.
final class SharedDirectory {
    let path: String

    init() throws {
        path = TemporaryFiles.makeDirectory("shared", in: "/tmp")
        chmod(path, 0o755)
    }

    deinit {
        collectSanitizerReports()
        TemporaryFiles.remove(path)
    }

    /// The sanitizer runtime's options for an instrumented process run as
    /// another user. scripts/sanitize points `log_path` and LSan's
    /// `suppressions` into the checkout, which another user cannot reach in
    /// a clone under a 0700 directory: the runtime then dies at start
    /// ("ERROR: Can't create directory", seen from a clean clone). Here they
    /// point into this directory instead; what the runtime writes is moved
    /// back to where scripts/sanitize looks when this directory is released.
    func sanitizerEnvironment() -> [String: String] {
        let reports = path + "/sanitizer"
        mkdir(reports, 0o755)
        chmod(reports, 0o777)
        var result: [String: String] = [:]
        for key in ["ASAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"] {
            guard let value = ProcessInfo.processInfo.environment[key] else { continue }
            result[key] = value.split(separator: ":").map { option -> String in
                let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, parts[0] == "log_path" || parts[0] == "suppressions" else { return String(option) }
                let moved = reports + "/" + (parts[1] as NSString).lastPathComponent
                if parts[0] == "suppressions" {
                    try? FileManager.default.copyItem(atPath: parts[1], toPath: moved)
                    chmod(moved, 0o644)
                } else {
                    reportPrefixes[moved] = parts[1]
                }
                return parts[0] + "=" + moved
            }.joined(separator: ":")
        }
        return result
    }

    /// Moves the reports the runtime wrote here (`PREFIX.PID`) to the
    /// original `log_path`'s directory.
    private func collectSanitizerReports() {
        let reports = path + "/sanitizer"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: reports)) ?? []
        for (moved, original) in reportPrefixes {
            let prefix = (moved as NSString).lastPathComponent + "."
            for name in names where name.hasPrefix(prefix) {
                let target = (original as NSString).deletingLastPathComponent + "/" + name
                try? FileManager.default.moveItem(atPath: reports + "/" + name, toPath: target)
            }
        }
    }

    private var reportPrefixes: [String: String] = [:]

    /// Copies an executable here under `name` and returns its path.
    func copy(_ executable: String, as name: String) throws -> String {
        let target = path + "/" + name
        try copyExecutable(executable, to: target)
        return target
    }

    /// True if every directory on the way to `path` lets others search it
    /// (/tmp might not, on a hardened machine: then such tests are skipped).
    static func isReachableByOthers(_ path: String) -> Bool {
        var directory = canonicalPath(path)
        while true {
            var info = stat()
            guard stat(directory, &info) == 0, info.st_mode & S_IXOTH != 0 else { return false }
            if directory == "/" { return true }
            directory = (directory as NSString).deletingLastPathComponent
        }
    }
}

/// Root can start processes as another user, and that user can reach /tmp.
let canRunAsOtherUser = RootOnly.isRoot && SharedDirectory.isReachableByOthers("/tmp")

/// The path with symbolic links and repeated slashes resolved, as /proc shows it.
func canonicalPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// `816 kB` -> 816.
func kilobytes(_ field: String?) -> Int? {
    guard let field, let number = field.split(separator: " ").first else { return nil }
    return Int(number)
}

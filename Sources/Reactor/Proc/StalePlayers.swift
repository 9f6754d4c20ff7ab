import Presentation
import CLibc

/// What makes a process a stale player of the device monitord gates on.
/// Every field must match; the rule is strict on purpose, because a false
/// positive kills somebody else's player.
public struct StalePlayerRule: Equatable, Sendable {
    /// Basename of COMMAND (`squeezelite` for `/usr/bin/squeezelite`).
    public var baseName: String
    /// COMMAND resolved through PATH and symbolic links (`python3` is
    /// `/usr/bin/python3.11` on Debian 12), or nil when it could not be: a
    /// leftover's executable is this file or has COMMAND's basename.
    public var executable: String?
    /// The exact last `-o` value (`lb0c`): the identity when the gate was
    /// found from the command's `-o lb*`.
    public var device: String?
    /// Whole elements of argv[1...] a leftover must have, in any order
    /// (`--stale-match`, and the script an interpreter runs).
    public var arguments: [String]
    /// monitord's real uid: never touch another user's processes.
    public var uid: UInt32
    /// monitord itself and its own child; processes whose parent is one of
    /// these are excluded too (a child forked but not yet exec'd still shows
    /// monitord's own command line).
    public var excluded: Set<Int32>

    public init(baseName: String, executable: String? = nil, device: String?, arguments: [String] = [],
                uid: UInt32, excluded: Set<Int32>) {
        self.baseName = baseName
        self.executable = executable
        self.device = device
        self.arguments = arguments
        self.uid = uid
        self.excluded = excluded
    }
}

public enum StalePlayers {
    /// The rule applied to facts already read from /proc. Pure.
    /// - executable: the target of /proc/PID/exe (a full path; a bare name
    ///   is compared by name only), or nil when it cannot be read (another
    ///   user's process, a kernel thread).
    /// - state: the `State:` letter of /proc/PID/status.
    public static func matches(commandLine: [String], executable: String?, uid: UInt32, state: Character?, rule: StalePlayerRule) -> Bool {
        let expected = Path.baseName(rule.baseName)
        guard !expected.isEmpty, let argv0 = commandLine.first else { return false } // kernel thread
        // A rule that names neither a device nor an argument would take every
        // process of that program for a leftover: it matches nothing instead.
        guard rule.device != nil || !rule.arguments.isEmpty else { return false }
        guard state != "Z", state != "X" else { return false } // zombie or dead: holds nothing
        guard uid == rule.uid else { return false }
        guard isCommandsExecutable(argv0: argv0, executable: executable, expected: expected, rule: rule) else { return false }
        if let device = rule.device {
            // The effective output is the last -o, as getopt would take it.
            guard OutputOption.values(in: commandLine).last == device else { return false }
        }
        // Whole elements only: `ch2` is not `ch21`, `--x=v` is one element.
        let arguments = commandLine.dropFirst()
        return rule.arguments.allSatisfy { arguments.contains($0) }
    }

    /// argv[0] names COMMAND (by its basename, or the basename of what it
    /// resolves to), and so does /proc/PID/exe when it can be read: its
    /// basename is COMMAND's, or it is the very file COMMAND resolves to
    /// (`python3` → `/usr/bin/python3.11`, whose basename differs).
    private static func isCommandsExecutable(argv0: String, executable: String?, expected: String, rule: StalePlayerRule) -> Bool {
        let shown = Path.baseName(argv0)
        guard shown == expected || (rule.executable.map { shown == Path.baseName($0) } ?? false) else { return false }
        guard let executable else { return true }
        // The kernel appends " (deleted)" when the binary was replaced on disk
        // (a package upgrade): still the same player.
        let suffix = " (deleted)"
        let path = executable.hasSuffix(suffix) ? String(executable.dropLast(suffix.count)) : executable
        return Path.baseName(path) == expected || path == rule.executable
    }

    /// Pids of matching processes in `procRoot`, ascending.
    public static func find(_ rule: StalePlayerRule, procRoot: String = "/proc") -> [Int32] {
        ProcEntries.processIDs(procRoot: procRoot).filter { pid in
            !rule.excluded.contains(pid) && inspect(pid: pid, rule: rule, procRoot: procRoot)
        }
    }

    /// Re-reads /proc/PID after the caller opened a pidfd to it: between the
    /// scan and the pidfd the pid may have been reused by another process.
    /// While the pidfd is open the pid cannot be reused again, so a match
    /// now means the pidfd refers to the stale player.
    public static func verify(pid: Int32, rule: StalePlayerRule, procRoot: String = "/proc") -> Bool {
        !rule.excluded.contains(pid) && inspect(pid: pid, rule: rule, procRoot: procRoot)
    }

    /// A process whose parent is monitord or its child. Not when that parent
    /// is pid 1: orphans are reparented there, and a stale player is
    /// typically an orphan (monitord as a container's init is the case).
    private static func isSpawnedByExcluded(parent: Int32?, rule: StalePlayerRule) -> Bool {
        guard let parent, parent != 1 else { return false }
        return rule.excluded.contains(parent)
    }

    private static func inspect(pid: Int32, rule: StalePlayerRule, procRoot: String) -> Bool {
        guard let status = ProcEntries.status(pid: pid, procRoot: procRoot),
              let uid = status.realUID,
              !isSpawnedByExcluded(parent: status.parentPID, rule: rule),
              let commandLine = ProcEntries.commandLine(pid: pid, procRoot: procRoot)
        else { return false }
        let executable = ProcEntries.linkTarget("\(procRoot)/\(pid)/exe")
        return matches(commandLine: commandLine, executable: executable, uid: uid, state: status.state, rule: rule)
    }
}

import CLibc

/// What makes a process a stale player of the device monitord gates on.
/// Every field must match; the rule is strict on purpose, because a false
/// positive kills somebody else's player.
public struct StalePlayerRule: Equatable, Sendable {
    /// Basename of COMMAND (`squeezelite` for `/usr/bin/squeezelite`).
    public var baseName: String
    /// The exact `-o` value (`lb0c`).
    public var device: String
    /// monitord's real uid: never touch another user's processes.
    public var uid: UInt32
    /// monitord itself and its own child; processes whose parent is one of
    /// these are excluded too (a child forked but not yet exec'd still shows
    /// monitord's own command line).
    public var excluded: Set<Int32>

    public init(baseName: String, device: String, uid: UInt32, excluded: Set<Int32>) {
        self.baseName = baseName
        self.device = device
        self.uid = uid
        self.excluded = excluded
    }
}

public enum StalePlayers {
    /// The rule applied to facts already read from /proc. Pure.
    /// - executableBaseName: basename of /proc/PID/exe's target, or nil when
    ///   it cannot be read (another user's process, a kernel thread).
    /// - state: the `State:` letter of /proc/PID/status.
    public static func matches(commandLine: [String], executableBaseName: String?, uid: UInt32, state: Character?, rule: StalePlayerRule) -> Bool {
        let expected = Path.baseName(rule.baseName)
        guard !expected.isEmpty, let argv0 = commandLine.first else { return false } // kernel thread
        guard state != "Z", state != "X" else { return false } // zombie or dead: holds nothing
        guard uid == rule.uid else { return false }
        guard Path.baseName(argv0) == expected else { return false }
        if let executable = executableBaseName {
            // The kernel appends " (deleted)" when the binary was replaced
            // on disk (a package upgrade): still the same player.
            let suffix = " (deleted)"
            let name = executable.hasSuffix(suffix) ? String(executable.dropLast(suffix.count)) : executable
            guard name == expected else { return false }
        }
        // The effective output is the last -o, as getopt would take it.
        return OutputOption.values(in: commandLine).last == rule.device
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
        let executable = ProcEntries.linkTarget("\(procRoot)/\(pid)/exe").map(Path.baseName)
        return matches(commandLine: commandLine, executableBaseName: executable, uid: uid, state: status.state, rule: rule)
    }
}

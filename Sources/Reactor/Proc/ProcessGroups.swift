import Supervision

/// Who is in a process group: /proc/PID/stat's state and pgrp fields. There
/// is no cheaper index; the scan runs only when a group is known to have
/// members besides an exited leader.
enum ProcessGroups {
    /// The state and process group of `pid` (nil when it is gone).
    static func stateAndGroup(pid: Int32, procRoot: String = "/proc") -> (state: Character, group: Int32)? {
        guard let bytes = ProcEntries.contents("\(procRoot)/\(pid)/stat") else { return nil }
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses,
        // so the fields are counted from the last ')'.
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count >= 3, let state = fields[0].first, let group = Int32(String(decoding: fields[2], as: UTF8.self)) else {
            return nil
        }
        return (Character(Unicode.Scalar(state)), group)
    }

    /// The live members of group `pgid` (zombies and dead entries left out).
    static func liveMembers(of pgid: Int32, procRoot: String = "/proc") -> [Int32] {
        ProcEntries.processIDs(procRoot: procRoot).filter { isLiveMember($0, of: pgid, procRoot: procRoot) }
    }

    static func isLiveMember(_ pid: Int32, of pgid: Int32, procRoot: String = "/proc") -> Bool {
        guard let (state, group) = stateAndGroup(pid: pid, procRoot: procRoot) else { return false }
        return group == pgid && state != "Z" && state != "X"
    }
}

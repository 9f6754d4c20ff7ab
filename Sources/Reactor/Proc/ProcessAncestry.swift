/// Whether a process descends from one of a few others, read from the
/// `PPid:` chain in /proc: a player's helpers and children hold its device
/// on its behalf, and are never a leftover or an intruder.
enum ProcessAncestry {
    /// Parents followed before giving up (a deeper tree is not a player's).
    static let maximumDepth = 64

    /// True when `pid` is one of `ancestors` or a descendant of one. A
    /// process that cannot be read (gone, another user's in a locked /proc)
    /// ends the walk: it is taken as not descending.
    static func descends(_ pid: Int32, from ancestors: Set<Int32>, procRoot: String = "/proc") -> Bool {
        var current = pid
        for _ in 0..<maximumDepth {
            if ancestors.contains(current) { return true }
            guard current > 1, let parent = ProcEntries.status(pid: current, procRoot: procRoot)?.parentPID,
                  parent > 0 else { return false }
            current = parent
        }
        return false
    }
}

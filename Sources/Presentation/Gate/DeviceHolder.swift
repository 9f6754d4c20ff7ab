/// A process with at least one descriptor open on a sound device.
public struct DeviceHolder: Equatable, Sendable {
    public var pid: Int32
    /// argv, from /proc/PID/cmdline (empty for kernel threads).
    public var commandLine: [String]
    /// The device paths it holds open, sorted, e.g. `/dev/snd/pcmC0D0p`.
    public var devices: [String]

    public init(pid: Int32, commandLine: [String], devices: [String]) {
        self.pid = pid
        self.commandLine = commandLine
        self.devices = devices
    }
}

/// The result of one scan.
public struct HolderScan: Equatable, Sendable {
    /// Sorted by pid.
    public var holders: [DeviceHolder]
    /// Processes whose fd directory could not be read (EACCES: monitord is
    /// not root), so the caller can say that the list may be incomplete.
    public var unreadableProcesses: Int
    /// Set when the scan could not be completed at all (no descriptor left to
    /// read /proc: EMFILE, ENFILE, ...): then an empty list proves nothing.
    public var failure: Int32?

    public init(holders: [DeviceHolder], unreadableProcesses: Int, failure: Int32? = nil) {
        self.holders = holders
        self.unreadableProcesses = unreadableProcesses
        self.failure = failure
    }
}

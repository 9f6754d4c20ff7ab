/// Which exits start the command again (systemd's `Restart=` words).
public enum RestartPolicy: String, Equatable, Sendable {
    /// Exit 0 ends supervision; any other exit or a signal restarts
    /// (process_monitor.py's contract).
    case onFailure = "on-failure"
    /// Every exit restarts, exit 0 too (squeezelite exits 0 when it cannot
    /// open its output); only a stop signal ends supervision.
    case always
}

import Supervision

/// Optional behaviour the executable plugs in (sd_notify, status file, watchdog),
/// kept out of the core so the reactor works, and is tested, without them.
public struct LoopHooks {
    public var phaseChanged: ((SupervisionTable) -> Void)?
    public var notify: ((ServiceNotification) -> Void)?
    public var tearDown: ((SupervisionTable) -> Void)?
    /// WATCHDOG=1 period; the only periodic wakeup monitord ever has, and only when asked.
    public var watchdogInterval: Duration?
    public var watchdogPing: (() -> Void)?

    public init() {}
}

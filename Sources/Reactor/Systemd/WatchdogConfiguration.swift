import CLibc

/// systemd's watchdog request (`WatchdogSec=` in the unit), as sd_watchdog_enabled(3)
/// reads it: `WATCHDOG_USEC` is the period in microseconds; `WATCHDOG_PID`,
/// when present, names the one process the request is for.
public enum WatchdogConfiguration {
    /// The interval at which to send `WATCHDOG=1`, or nil when no watchdog
    /// applies to process `pid`. Reads the environment without changing it
    /// (`ServiceNotifier.fromEnvironment` removes the variables afterwards).
    public static func fromEnvironment(pid: Int32) -> Duration? {
        parse(usec: getenv("WATCHDOG_USEC").map { String(cString: $0) },
              watchdogPID: getenv("WATCHDOG_PID").map { String(cString: $0) },
              pid: pid)
    }

    /// Half the requested period, as sd_watchdog_enabled(3) recommends, so one
    /// late ping does not trip the watchdog.
    ///
    /// nil when `usec` is absent, empty, not all decimal digits, zero, or at
    /// least UInt64.max (systemd's "infinity"); or when `watchdogPID` is present
    /// but is not a positive decimal pid equal to `pid` (the request is for
    /// another process, e.g. monitord's own parent in a wrapper chain).
    public static func parse(usec: String?, watchdogPID: String?, pid: Int32) -> Duration? {
        guard let usec, let period = decimal(usec), period > 0, period < UInt64.max else { return nil }
        if let watchdogPID {
            guard let target = decimal(watchdogPID), target > 0, target == UInt64(clamping: pid), pid > 0 else {
                return nil
            }
        }
        // Split to avoid overflowing microseconds -> nanoseconds; an odd
        // period keeps its half microsecond.
        return .microseconds(Int64(period / 2)) + .nanoseconds(Int64(period % 2) * 500)
    }

    /// A strict unsigned decimal: digits only (no sign, no spaces), no overflow.
    private static func decimal(_ text: String) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        return UInt64(text)
    }
}

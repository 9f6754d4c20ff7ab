/// A log line's priority: sd-daemon(3)'s numbers, which journald reads
/// from a `<N>` prefix.
public enum LogLevel: Int32, Comparable, Sendable {
    case error = 3
    case warning = 4
    case notice = 5
    case info = 6
    case debug = 7

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

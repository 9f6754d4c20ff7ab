import CEpoll
#if canImport(Glibc)
import Glibc
#endif

/// One line per event, written to stderr with a single write(2) the moment it
/// happens (no stdio buffering: the original's first line once arrived eight
/// minutes late).
public struct Logger: Sendable {
    /// sd-daemon(3) priorities.
    public enum Level: Int32, Comparable, Sendable {
        case error = 3
        case warning = 4
        case notice = 5
        case info = 6
        case debug = 7

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Lines above this level (less important) are not written.
    public var threshold: Level
    /// journald reads `<N>` at the start of a line as the priority.
    public let journal: Bool
    private let tag: String
    private let fd: Int32

    public init(threshold: Level = .info, journal: Bool, fd: Int32 = 2) {
        self.threshold = threshold
        self.journal = journal
        self.fd = fd
        tag = "monitord[\(getpid())]: "
    }

    /// True when stderr is the journal: `JOURNAL_STREAM` names stderr's device
    /// and inode (a child's inherited variable must not fool us).
    public static func stderrIsJournal(fd: Int32 = 2) -> Bool {
        guard let raw = getenv("JOURNAL_STREAM") else { return false }
        let value = String(cString: raw)
        guard let colon = value.firstIndex(of: ":"),
              let device = UInt64(value[..<colon]),
              let inode = UInt64(value[value.index(after: colon)...]) else { return false }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    public func enabled(_ level: Level) -> Bool { level <= threshold }

    public func log(_ level: Level, _ message: String) {
        guard enabled(level) else { return }
        var line = journal ? "<\(level.rawValue)>" : tag
        line += message
        line += "\n"
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && Errno.current == EINTR {
                    continue
                } else {
                    // EPIPE, EBADF, EAGAIN: a broken log must never stop supervision.
                    return
                }
            }
        }
    }
}

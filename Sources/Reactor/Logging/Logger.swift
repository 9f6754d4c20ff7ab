import CKernelShim
import Presentation
import Supervision
import CLibc

/// One line per event, written to stderr the moment it happens (no stdio
/// buffering: the original's first line once arrived eight minutes late).
///
/// Logging never blocks supervision: when stderr is a socket (the journal)
/// or a pipe whose reader stopped reading, a line that does not fit is
/// dropped and counted, and the count is reported once lines fit again. The
/// child keeps its own, blocking, stderr: only monitord's writes are
/// non-blocking.
public final class Logger {
    public typealias Level = LogLevel

    /// How lines reach stderr without ever blocking.
    enum Sink: Equatable {
        /// Regular files and terminals: plain write(2).
        case plain(Int32)
        /// A socket (journald's stream): send with MSG_DONTWAIT.
        case socket(Int32)
        /// A pipe or FIFO: a private O_NONBLOCK description of the same pipe,
        /// opened through /proc/self/fd/2, so stderr's own stays blocking.
        /// The logger owns that descriptor (`ownPipe`).
        case pipe(Int32)
    }

    /// Lines above this level (less important) are not written.
    public var threshold: Level
    /// journald reads `<N>` at the start of a line as the priority.
    public let journal: Bool
    private let tag: String
    private let sink: Sink
    /// The `.pipe` sink's own descriptor, closed with the logger.
    private let ownPipe: Descriptor?
    /// Lines lost to a full pipe or socket since the last line that fit.
    public private(set) var dropped = 0

    public init(threshold: Level = .info, journal: Bool, fd: Int32 = 2) {
        self.threshold = threshold
        self.journal = journal
        tag = "monitord[\(getpid())]: "
        sink = Self.sink(for: fd)
        if case .pipe(let own) = sink { ownPipe = Descriptor(adopting: own) } else { ownPipe = nil }
    }

    static func sink(for fd: Int32) -> Sink {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .plain(fd) }
        switch info.st_mode & mode_t(S_IFMT) {
        case mode_t(S_IFSOCK):
            return .socket(fd)
        case mode_t(S_IFIFO):
            let own = clibc_open("/proc/self/fd/\(fd)", O_WRONLY | O_NONBLOCK | O_CLOEXEC, 0)
            return own >= 0 ? .pipe(own) : .plain(fd)
        default:
            return .plain(fd)
        }
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
        if dropped > 0 {
            let count = dropped
            dropped = 0
            guard emit(.warning, "\(count) log lines were dropped: stderr was not being read") else {
                dropped = count + 1
                return
            }
        }
        if !emit(level, message) { dropped += 1 }
    }

    /// Writes one whole line; false when it was dropped.
    private func emit(_ level: Level, _ message: String) -> Bool {
        var line = journal ? "<\(level.rawValue)>" : tag
        line += message
        line += "\n"
        return line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && Errno.current == EINTR {
                    continue
                } else if written < 0 && Errno.current == EAGAIN && offset > 0 {
                    // Half a line is out: finish it rather than corrupt the next
                    // one. A pipe that accepted bytes a moment ago drains soon.
                    var pending = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                    if poll(&pending, 1, 100) <= 0 { return false }
                } else {
                    // EAGAIN (nobody reads), EPIPE, EBADF: never stop supervision.
                    return false
                }
            }
            return true
        }
    }

    private var descriptor: Int32 {
        switch sink {
        case .plain(let fd), .socket(let fd), .pipe(let fd): return fd
        }
    }

    private func write(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int {
        switch sink {
        case .plain(let fd), .pipe(let fd):
            return CLibc.write(fd, bytes, count)
        case .socket(let fd):
            return send(fd, bytes, count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
        }
    }
}

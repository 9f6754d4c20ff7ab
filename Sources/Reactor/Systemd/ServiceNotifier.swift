import Supervision
import CLibc

/// Why `NOTIFY_SOCKET` cannot be used: one line, ready for a warning.
public struct NotifyError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// sd_notify(3) without libsystemd: one datagram per message to the unix
/// socket systemd names in `NOTIFY_SOCKET`.
///
/// A final class rather than a `~Copyable` struct so the reactor can keep it
/// in an optional stored property and call `notifier?.send(...)` freely; it
/// still owns exactly one socket, closed in `deinit`.
///
/// Sending never blocks and never fails the caller: systemd not reading, a
/// full socket buffer or a vanished socket all end as `false`, and the
/// supervisor goes on (a missed STATUS is cosmetic; a missed WATCHDOG=1 is
/// systemd's business to act on).
public final class ServiceNotifier: Sendable {
    /// The variables that make a process "the notifying service". monitord
    /// removes them so its child does not inherit them: a child that speaks
    /// sd_notify would otherwise report READY or watchdog pings on monitord's
    /// behalf (or be rejected noisily under `NotifyAccess=main`).
    public static let environmentVariables = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]

    /// The socket address as given (`/run/systemd/notify` or `@name`), for logs.
    public let socketName: String
    /// The WATCHDOG=1 ping interval systemd asked for (half of `WATCHDOG_USEC`),
    /// read before the variables were removed; nil when no watchdog applies.
    public let watchdogInterval: Duration?

    private let datagramSocket: Descriptor
    private let address: sockaddr_un
    private let addressLength: socklen_t

    private init(socketName: String, descriptor: consuming Descriptor, address: sockaddr_un,
                 addressLength: socklen_t, watchdogInterval: Duration?) {
        self.socketName = socketName
        datagramSocket = descriptor
        self.address = address
        self.addressLength = addressLength
        self.watchdogInterval = watchdogInterval
    }

    /// Reads `NOTIFY_SOCKET` (and, for `watchdogInterval`, `WATCHDOG_USEC` and
    /// `WATCHDOG_PID`), then removes all three from the environment, whatever
    /// the outcome. Call it once at startup, before the first spawn.
    ///
    /// - Returns: `.success(nil)` when `NOTIFY_SOCKET` is unset or empty (not
    ///   run by systemd, or not `Type=notify`): nothing to do, nothing to warn
    ///   about. `.failure` with a one-line reason when it is set but unusable.
    public static func fromEnvironment() -> Result<ServiceNotifier?, NotifyError> {
        let value = getenv("NOTIFY_SOCKET").map { String(cString: $0) }
        let watchdog = WatchdogConfiguration.fromEnvironment(pid: getpid())
        for name in environmentVariables { unsetenv(name) }
        guard let value, !value.isEmpty else { return .success(nil) }
        return connect(to: value, watchdogInterval: watchdog).map { Optional($0) }
    }

    /// Builds a notifier for an explicit `NOTIFY_SOCKET` value, without
    /// touching the environment (the testable core of `fromEnvironment`).
    ///
    /// Accepted: an absolute path, or `@name` for an abstract socket. Anything
    /// else (a relative path, systemd v256's `vsock:` addresses, a name longer
    /// than `sockaddr_un` holds) is refused: sd_notify would refuse it too.
    public static func connect(to value: String, watchdogInterval: Duration? = nil) -> Result<ServiceNotifier, NotifyError> {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let pathOffset = clibc_sun_path_offset()

        var bytes = Array(value.utf8)
        if bytes.contains(0) {
            return .failure(NotifyError("NOTIFY_SOCKET contains a NUL byte"))
        }
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract {
            // Abstract namespace: a leading NUL instead of '@', no terminator;
            // the address length, not a NUL, ends the name.
            bytes[0] = 0
            guard bytes.count > 1 else {
                return .failure(NotifyError("NOTIFY_SOCKET=\(value): empty abstract socket name"))
            }
        } else {
            guard bytes.first == UInt8(ascii: "/") else {
                return .failure(NotifyError("NOTIFY_SOCKET=\(value): not an absolute path or @abstract name"))
            }
            bytes.append(0)
        }
        guard bytes.count <= capacity else {
            return .failure(NotifyError("NOTIFY_SOCKET=\(value): \(bytes.count) bytes, longer than the \(capacity) a unix socket address holds"))
        }
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            path.copyBytes(from: bytes)
        }
        let length = socklen_t(pathOffset + bytes.count)

        let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let opened = socket(AF_UNIX, type, 0)
        guard opened >= 0 else {
            return .failure(NotifyError("NOTIFY_SOCKET=\(value): socket: \(Errno.describe(Errno.current))"))
        }
        let descriptor = Descriptor(adopting: opened)  // Closed on a failure below.
        // Probe once so a missing or refusing socket is one warning at
        // startup instead of a silent false from every send. connect() on a
        // datagram socket only records the peer; undo it at once so the
        // socket stays unconnected like sd_notify's, and each send looks the
        // name up afresh.
        if let failure = probe(descriptor.rawValue, address, length) {
            return .failure(NotifyError("NOTIFY_SOCKET=\(value): \(failure)"))
        }
        return .success(ServiceNotifier(socketName: value, descriptor: descriptor, address: address,
                                        addressLength: length, watchdogInterval: watchdogInterval))
    }

    /// connect() then disconnect (AF_UNSPEC); the connect error, if any.
    private static func probe(_ descriptor: Int32, _ address: sockaddr_un, _ length: socklen_t) -> String? {
        var address = address
        var result: Int32
        repeat {
            result = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { CLibc.connect(descriptor, $0, length) }
            }
        } while result != 0 && Errno.current == EINTR
        if result != 0 { return "connect: \(Errno.describe(Errno.current))" }
        var unspecified = sockaddr()
        unspecified.sa_family = sa_family_t(AF_UNSPEC)
        _ = CLibc.connect(descriptor, &unspecified, socklen_t(MemoryLayout<sockaddr>.size))
        return nil
    }

    /// Sends one notification, e.g. `READY=1`, `STATUS=running squeezelite
    /// (pid 812)`, `STOPPING=1`, `WATCHDOG=1`. Several assignments may be
    /// joined with newlines in one message.
    ///
    /// - Returns: whether the kernel accepted the whole datagram. Never
    ///   blocks (MSG_DONTWAIT), never raises SIGPIPE (MSG_NOSIGNAL).
    @discardableResult
    public func send(_ message: String) -> Bool {
        var address = self.address
        var message = message
        return message.withUTF8 { payload in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    let flags = Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL)
                    while true {
                        let sent = sendto(datagramSocket.rawValue, payload.baseAddress, payload.count, flags,
                                          socketAddress, addressLength)
                        if sent >= 0 { return sent == payload.count }
                        // EINTR cannot really happen with MSG_DONTWAIT, but is
                        // harmless to retry; everything else is a plain failure.
                        if Errno.current != EINTR { return false }
                    }
                }
            }
        }
    }
}

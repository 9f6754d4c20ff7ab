#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which operation, and the errno it left.
public struct SystemError: Error, Equatable, CustomStringConvertible {
    public let operation: StaticString
    public let errno: Int32

    public init(_ operation: StaticString, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String { "\(operation): \(Errno.describe(errno))" }

    public static func == (lhs: SystemError, rhs: SystemError) -> Bool {
        lhs.errno == rhs.errno && lhs.operation.description == rhs.operation.description
    }
}

/// errno helpers that need no Foundation.
public enum Errno {
    /// The calling thread's errno (Glibc exposes it as a computed property).
    public static var current: Int32 { Glibc.errno }

    /// `EBUSY (Device or resource busy)`: the symbolic name first, because
    /// operators grep for it, then strerror's text.
    public static func describe(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        if let name = name(code) { return "\(name) (\(text))" }
        return text
    }

    /// Symbolic names for the errnos a supervisor actually meets.
    public static func name(_ code: Int32) -> String? {
        switch code {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case ESRCH: return "ESRCH"
        case EINTR: return "EINTR"
        case EIO: return "EIO"
        case ENXIO: return "ENXIO"
        case E2BIG: return "E2BIG"
        case ENOEXEC: return "ENOEXEC"
        case EBADF: return "EBADF"
        case ECHILD: return "ECHILD"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case EACCES: return "EACCES"
        case EBUSY: return "EBUSY"
        case ENODEV: return "ENODEV"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case EINVAL: return "EINVAL"
        case ENFILE: return "ENFILE"
        case EMFILE: return "EMFILE"
        case ETXTBSY: return "ETXTBSY"
        case EPIPE: return "EPIPE"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        case ELOOP: return "ELOOP"
        case ETIMEDOUT: return "ETIMEDOUT"
        case ESTRPIPE: return "ESTRPIPE"
        case EBADFD: return "EBADFD"
        case ECONNREFUSED: return "ECONNREFUSED"
        default: return nil
        }
    }
}

/// Runs a syscall wrapper that returns -1 on failure, retrying EINTR.
/// Never use it for close(): a retried close can close someone else's descriptor.
@inline(__always)
func retryingInterrupts(_ operation: StaticString, _ body: () -> Int32) throws(SystemError) -> Int32 {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Errno.current
        if code == EINTR { continue }
        // A bad descriptor or address here is a bug in monitord, not an
        // environmental failure: stop loudly rather than limp on.
        precondition(code != EBADF && code != EFAULT, "\(operation) failed with \(Errno.describe(code))")
        throw SystemError(operation, errno: code)
    }
}

import Supervision
import CLibc

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

extension Errno {
    /// The calling thread's errno (a C macro over a function: read through CLibc).
    public static var current: Int32 { clibc_errno() }
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

import Supervision
import CLibc

/// An owned file descriptor. Not copyable: exactly one owner closes it, when
/// the value is dropped (deinit) or through `close()` when the caller needs
/// to know how the close went. Frozen: Embedded Swift allows `discard self`
/// only in a type whose layout is fixed.
@frozen
public struct Descriptor: ~Copyable, Sendable {
    public let rawValue: Int32

    public init(adopting rawValue: Int32) {
        self.rawValue = rawValue
    }

    deinit {
        // close() is never retried: after EINTR the descriptor is already gone.
        _ = CLibc.close(rawValue)
    }

    /// Closes the descriptor now and reports close(2)'s failure, for a caller
    /// to whom it means something (a write that did not reach the file).
    /// Whatever the outcome the descriptor is gone: the error is for the
    /// caller to judge, never a reason to retry. After EINTR in particular,
    /// Linux has already released the number, which another thread may own
    /// by then.
    public consuming func close() throws(SystemError) {
        let fd = rawValue
        discard self
        if CLibc.close(fd) != 0 { throw SystemError("close", errno: Errno.current) }
    }
}

import CKernelShim
import Supervision
import CLibc

/// A process monitord did not start, pinned through a pidfd: from the moment
/// `pin` succeeds, `signal` reaches this process or nobody, never a process
/// that was given its pid after it exited. (What the pid ran before it was
/// pinned is the caller's to re-check: pinning does not say the pid still
/// names the process a scan saw.)
///
/// Beside `ChildProcess`, which owns a pidfd the same way but can also reap:
/// a pinned process is not monitord's child, so it is only signalled and
/// watched (its pidfd becomes readable when it exits). The pidfd closes when
/// the value is dropped.
public struct PinnedProcess: ~Copyable {
    public let pid: Int32
    private let pidfd: Descriptor
    /// The pidfd, for epoll registration (readable once the process exited).
    /// Unregister it before the value is dropped.
    public var fd: Int32 { pidfd.rawValue }

    /// Pins `pid`; nil when there is no such process (ESRCH: it exited and
    /// was reaped). A zombie is still pinned: it has not been reaped yet.
    public static func pin(_ pid: Int32) throws(SystemError) -> PinnedProcess? {
        let fd = ksh_pidfd_open(pid)
        guard fd >= 0 else {
            let code = Errno.current
            if code == ESRCH { return nil }
            throw SystemError("pidfd_open", errno: code)
        }
        return PinnedProcess(pid: pid, pidfd: Descriptor(adopting: fd))
    }

    private init(pid: Int32, pidfd: consuming Descriptor) {
        self.pid = pid
        self.pidfd = pidfd
    }

    /// Sends `signal` to the pinned process. False when it has already exited
    /// and been reaped (ESRCH); any other failure (EPERM) is thrown.
    public func signal(_ signal: Int32) throws(SystemError) -> Bool {
        if ksh_pidfd_send_signal(pidfd.rawValue, signal) == 0 { return true }
        let code = Errno.current
        if code == ESRCH { return false }
        throw SystemError("pidfd_send_signal", errno: code)
    }
}

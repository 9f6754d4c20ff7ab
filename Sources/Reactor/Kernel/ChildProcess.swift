import CKernelShim
import Supervision
import CLibc

/// A running child, owned through its pidfd: signals go through the pidfd, so
/// a reaped child's recycled pid can never be hit.
public struct ChildProcess: ~Copyable {
    public let pid: Int32
    private let pidfd: Descriptor
    public var fd: Int32 { pidfd.rawValue }

    /// Starts the command: own process group, empty signal mask, default
    /// dispositions, PR_SET_PDEATHSIG=SIGTERM, no inherited descriptors above 2.
    /// `handlersBlocked`: the caller guarantees no signal with a handler can
    /// be delivered to this thread (the reactor: its signalfd blocks every
    /// catchable signal but SIGCHLD and SIGPIPE, which have none); saves the
    /// mask save/restore around the clone.
    public static func spawn(_ command: borrowing PreparedCommand, handlersBlocked: Bool = false) throws(SpawnFailure) -> ChildProcess {
        var result = ksh_spawn_result()
        let rc = Signals.resetInChild.withUnsafeBufferPointer { reset in
            ksh_spawn(command.file, command.argv, reset.baseAddress, Int32(reset.count), SIGTERM,
                      handlersBlocked ? 1 : 0, &result)
        }
        if rc != 0 { throw SpawnFailure(stage: .clone, errno: Errno.current) }
        let child = ChildProcess(pid: result.pid, pidfd: Descriptor(adopting: result.pidfd))
        if result.exec_errno != 0 {
            // CLONE_VFORK returned because the child exited: reap it now.
            _ = try? child.waitForExit()
            throw SpawnFailure(stage: .exec, errno: result.exec_errno)
        }
        return child
    }

    private init(pid: Int32, pidfd: consuming Descriptor) {
        self.pid = pid
        self.pidfd = pidfd
    }

    /// Sends `signal` to the child itself. False when it has already exited.
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        ksh_pidfd_send_signal(pidfd.rawValue, signal) == 0
    }

    /// Sends `signal` to every process in the child's group. Only valid while
    /// the child is unreaped: until then its pid (the group id) cannot be reused.
    @discardableResult
    public func signalGroup(_ signal: Int32) -> Bool {
        ksh_kill_group(pid, signal) == 0
    }

    /// Reaps the child if it has exited; nil while it is still running.
    public func reap() throws(SystemError) -> TerminationStatus? {
        var code: Int32 = 0
        var status: Int32 = 0
        let reaped = try retryingInterrupts("waitid(P_PIDFD)") { ksh_pidfd_reap(pidfd.rawValue, 0, &code, &status) }
        return reaped == 1 ? Self.status(code: code, status: status) : nil
    }

    /// Waits for the exit (only for a child known to be exiting).
    public func waitForExit() throws(SystemError) -> TerminationStatus {
        var code: Int32 = 0
        var status: Int32 = 0
        _ = try retryingInterrupts("waitid(P_PIDFD)") { ksh_pidfd_reap(pidfd.rawValue, 1, &code, &status) }
        return Self.status(code: code, status: status)
    }

    private static func status(code: Int32, status: Int32) -> TerminationStatus {
        if code == KSH_CLD_EXITED { return .exited(status) }
        return .signaled(status, coreDumped: code == KSH_CLD_DUMPED)
    }
}

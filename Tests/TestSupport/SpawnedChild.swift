import CKernelShim
import Glibc

/// A child of the test process, pinned by a pidfd from its start. Signals go
/// through the pidfd and it is reaped once, through the pidfd too, so a
/// signal sent after the reap reaches nothing: never a process that took its
/// pid over (tests run in parallel in one process and start many). Release
/// it with `end()` at the end of its scope (a `defer`): the object itself may
/// be released before the scope ends, so its deinit is only a backstop.
public final class SpawnedChild: @unchecked Sendable, CustomStringConvertible {
    public let pid: pid_t
    private let pidfd: Int32
    /// How it ended, once reaped.
    public private(set) var ended: Ended?

    /// Takes over `pid`, a child of this process not yet reaped (a pid that
    /// is not cannot be pinned: that is a test's mistake, and it stops).
    public init(pid: pid_t) {
        self.pid = pid
        pidfd = ksh_pidfd_open(pid)
        precondition(pidfd >= 0, "pidfd_open(\(pid)) failed: errno \(errno)")
    }

    /// Starts `argv` with `spawnProcess`.
    public convenience init(_ argv: [String], environment: [String: String], stdin: String = "/dev/null",
                            stdout: String, stderr: String) throws {
        self.init(pid: try spawnProcess(argv, environment: environment, stdin: stdin, stdout: stdout, stderr: stderr))
    }

    deinit {
        end()
        close(pidfd)
    }

    public var description: String { "\(pid)" }

    /// Sends `signal` unless the child was reaped; false if it was not sent.
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        ended == nil && ksh_pidfd_send_signal(pidfd, signal) == 0
    }

    /// Reaps the child once it exits, waiting at most `timeout`; nil if it
    /// still runs then (it is left running).
    @discardableResult
    public func wait(timeout: Duration = .seconds(10)) -> Ended? {
        if ended == nil { ended = waitForExit(pidfd: pidfd, timeout: timeout) }
        return ended
    }

    /// SIGKILLs and reaps the child unless it was reaped already.
    public func end() {
        guard ended == nil else { return }
        signal(SIGKILL)
        wait(timeout: .seconds(10))
    }
}

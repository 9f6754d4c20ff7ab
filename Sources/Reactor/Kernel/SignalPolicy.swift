import CKernelShim
import Supervision
import CLibc

/// Which signals the reactor takes over, and what a child gets back.
extension Signals {
    /// Every signal monitord forwards: all catchable signals except SIGCHLD
    /// (children are watched through pidfds) and SIGPIPE (ignored, so a
    /// broken stderr shows up as EPIPE instead of killing monitord; a SIGPIPE
    /// of our own must never reach the child), and glibc's reserved ones.
    public static var forwarded: [Int32] {
        var list: [Int32] = []
        for signal in Int32(1)..<Int32(32) where !excluded(signal) {
            list.append(signal)
        }
        for signal in ksh_sigrtmin()...ksh_sigrtmax() {
            list.append(signal)
        }
        return list
    }

    fileprivate static func excluded(_ signal: Int32) -> Bool {
        signal == SIGKILL || signal == SIGSTOP || signal == SIGCHLD || signal == SIGPIPE
    }

    /// Dispositions monitord changes (SIG_IGN survives exec), reset in the child.
    static let resetInChild: [Int32] = [SIGPIPE]
}

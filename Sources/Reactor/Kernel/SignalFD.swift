import CEpoll
#if canImport(Glibc)
import Glibc
#endif

/// Signals delivered as readable data instead of asynchronous handlers.
public struct SignalFD: ~Copyable {
    public struct Delivery: Equatable, Sendable {
        public var signal: Int32
        public var senderPID: Int32
    }

    private let descriptor: Descriptor
    public var fd: Int32 { descriptor.rawValue }

    /// Blocks `signals` for the process and routes them to this descriptor.
    public init(_ signals: [Int32]) throws(SystemError) {
        // The array is passed as a pointer for the call (no typed throws through
        // withUnsafeBufferPointer, which Swift 6.0's stdlib declares `rethrows`).
        let raw = try retryingInterrupts("signalfd") { cep_signalfd_open(signals, Int32(signals.count)) }
        descriptor = Descriptor(adopting: raw)
    }

    /// The next pending signal, or nil when none is left.
    public func next() throws(SystemError) -> Delivery? {
        var signal: Int32 = 0
        var sender: Int32 = 0
        let got = try retryingInterrupts("read(signalfd)") { cep_signalfd_read(fd, &signal, &sender) }
        return got == 1 ? Delivery(signal: signal, senderPID: sender) : nil
    }
}

public enum Signals {
    /// Every signal monitord forwards: all catchable signals except SIGCHLD
    /// (children are watched through pidfds) and SIGPIPE (ignored, so a
    /// broken stderr shows up as EPIPE instead of killing monitord; a SIGPIPE
    /// of our own must never reach the child), and glibc's reserved ones.
    public static var forwarded: [Int32] {
        var list: [Int32] = []
        for signal in Int32(1)..<Int32(32) where !excluded(signal) {
            list.append(signal)
        }
        for signal in cep_sigrtmin()...cep_sigrtmax() {
            list.append(signal)
        }
        return list
    }

    /// Signals that end supervision.
    public static func isStop(_ signal: Int32) -> Bool {
        signal == SIGTERM || signal == SIGINT || signal == SIGQUIT
    }

    private static func excluded(_ signal: Int32) -> Bool {
        signal == SIGKILL || signal == SIGSTOP || signal == SIGCHLD || signal == SIGPIPE
    }

    /// `SIGTERM`, `SIGRTMIN+3`, or the number.
    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGHUP: return "SIGHUP"
        case SIGINT: return "SIGINT"
        case SIGQUIT: return "SIGQUIT"
        case SIGILL: return "SIGILL"
        case SIGTRAP: return "SIGTRAP"
        case SIGABRT: return "SIGABRT"
        case SIGBUS: return "SIGBUS"
        case SIGFPE: return "SIGFPE"
        case SIGKILL: return "SIGKILL"
        case SIGUSR1: return "SIGUSR1"
        case SIGSEGV: return "SIGSEGV"
        case SIGUSR2: return "SIGUSR2"
        case SIGPIPE: return "SIGPIPE"
        case SIGALRM: return "SIGALRM"
        case SIGTERM: return "SIGTERM"
        case SIGSTKFLT: return "SIGSTKFLT"
        case SIGCHLD: return "SIGCHLD"
        case SIGCONT: return "SIGCONT"
        case SIGSTOP: return "SIGSTOP"
        case SIGTSTP: return "SIGTSTP"
        case SIGTTIN: return "SIGTTIN"
        case SIGTTOU: return "SIGTTOU"
        case SIGURG: return "SIGURG"
        case SIGXCPU: return "SIGXCPU"
        case SIGXFSZ: return "SIGXFSZ"
        case SIGVTALRM: return "SIGVTALRM"
        case SIGPROF: return "SIGPROF"
        case SIGWINCH: return "SIGWINCH"
        case SIGIO: return "SIGIO"
        case SIGPWR: return "SIGPWR"
        case SIGSYS: return "SIGSYS"
        default:
            let rtmin = cep_sigrtmin()
            if signal >= rtmin && signal <= cep_sigrtmax() {
                return signal == rtmin ? "SIGRTMIN" : "SIGRTMIN+\(signal - rtmin)"
            }
            return "signal \(signal)"
        }
    }
}

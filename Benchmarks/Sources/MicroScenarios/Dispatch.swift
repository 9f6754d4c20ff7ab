import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// Reactor dispatch: a minimal loop built from the Reactor's own kernel
/// pieces (`Epoll`, `TimerFD`, `SignalFD`), shaped like `SupervisionLoop`'s: one
/// epoll set, sources told apart by the token, one `wait` per event.
///
/// Create it on the thread that measures: `SignalFD` blocks the signal for
/// the calling thread only (sigprocmask), and the signal is raised at that
/// thread (see `signalEvent`).
public final class DispatchLoop {
    private enum Source: UInt16 {
        case timer = 1
        case signals = 2
    }

    private let epoll: Epoll
    private let timer: TimerFD
    private let signals: SignalFD
    private let thread: pthread_t

    public init() throws {
        epoll = try Epoll(capacity: 16)
        timer = try TimerFD()
        signals = try SignalFD([SIGUSR1])
        thread = pthread_self()
        try epoll.add(timer.fd, .input, Epoll.Token(source: Source.timer.rawValue))
        try epoll.add(signals.fd, .input, Epoll.Token(source: Source.signals.rawValue))
    }

    /// One timer event: arm at zero (the shim makes that 1 ns), wait,
    /// acknowledge. Returns the expirations read (1).
    @inline(never)
    public func timerEvent() throws -> UInt64 {
        try timer.arm(after: .zero)
        return try dispatchOne()
    }

    /// One signal event: raise SIGUSR1 (blocked, so it stays pending for
    /// the signalfd), wait, read. Returns the signal number read.
    ///
    /// The signal is thread-directed (pthread_kill, a tgkill to this thread) rather than
    /// `kill(getpid(), ...)`: a benchmark process has other threads
    /// (package-benchmark's statistics sampler, the cooperative pool) that do
    /// not block SIGUSR1, and a process-directed SIGUSR1 delivered to one of
    /// them would kill the process. monitord itself has a single thread, so
    /// there both forms take the same path into the signalfd.
    @inline(never)
    public func signalEvent() throws -> UInt64 {
        _ = pthread_kill(thread, SIGUSR1)
        return try dispatchOne()
    }

    /// Waits for one ready source and handles it the way the daemon does.
    private func dispatchOne() throws -> UInt64 {
        var handled: UInt64 = 0
        while handled == 0 {
            try epoll.wait { (event) throws(SystemError) in
                switch Source(rawValue: event.token.source) {
                case .timer:
                    handled &+= try timer.acknowledge()
                case .signals:
                    while let delivery = try signals.next() {
                        handled &+= UInt64(delivery.signal)
                    }
                case nil:
                    break
                }
            }
        }
        return handled
    }
}

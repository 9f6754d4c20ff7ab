import Reactor
import Supervision
#if canImport(Glibc)
import Glibc
#endif

/// Restart cycle: spawn → exit → reap of one command through the reactor's
/// pieces, as the daemon does it: `ChildProcess.spawn` (clone3 with a pidfd
/// and CLONE_VFORK, exec), the pidfd added to epoll, `reap()` when it turns
/// readable, the pidfd removed and closed.
public final class RestartCycle {
    private static let childSource: UInt16 = 3

    private let epoll: Epoll
    private let command: PreparedCommand
    private var generation: UInt32 = 0

    public init(_ arguments: [String] = ["/bin/true"]) throws {
        epoll = try Epoll(capacity: 16)
        command = PreparedCommand(arguments)
    }

    /// Runs the command once to its end. Returns its exit code (or
    /// 128 + signal).
    @inline(never)
    public func cycle() throws -> Int32 {
        let child = try ChildProcess.spawn(command)
        generation &+= 1
        let token = Epoll.Token(source: Self.childSource, generation: generation)
        try epoll.add(child.fd, .input, token)
        var status: TerminationStatus?
        while status == nil {
            try epoll.wait { (event) throws(SystemError) in
                if event.token == token, status == nil {
                    status = try child.reap()
                }
            }
        }
        epoll.remove(child.fd)
        switch status! {
        case .exited(let code): return code
        case .signaled(let signal, _): return 128 + signal
        }
    }
}

/// CPU time (user + system) of this process's reaped children so far, in
/// microseconds: the cost of a subprocess, which the parent's own CPU
/// metrics do not include.
public func childrenCPUMicroseconds() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &usage)
    return microseconds(usage.ru_utime) + microseconds(usage.ru_stime)
}

/// CPU time (user + system) of this process so far, in microseconds.
public func selfCPUMicroseconds() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return microseconds(usage.ru_utime) + microseconds(usage.ru_stime)
}

/// CPU time of the calling thread, in nanoseconds.
public func threadCPUNanoseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return now.tv_sec * 1_000_000_000 + now.tv_nsec
}

private func microseconds(_ time: timeval) -> Int {
    time.tv_sec * 1_000_000 + Int(time.tv_usec)
}

/// How a child ended.
public enum TerminationStatus: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32, coreDumped: Bool)

    public var isSuccess: Bool { self == .exited(0) }

    /// `exited 1`, `was killed by SIGSEGV (core dumped)`: as log lines say it.
    public var description: String {
        switch self {
        case .exited(let code): return "exited \(code)"
        case .signaled(let signal, let core):
            return "was killed by \(Signals.name(signal))" + (core ? " (core dumped)" : "")
        }
    }
}

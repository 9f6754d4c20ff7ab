/// When the next start comes after an exit.
public enum RestartPlan: Equatable, Sendable {
    /// At once: the run was healthy (or the backoff is zero).
    case now
    /// After the backoff of the given consecutive fast failure.
    case after(Duration, failure: Int)
}

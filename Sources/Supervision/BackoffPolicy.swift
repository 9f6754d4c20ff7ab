/// Restart delays: the k-th consecutive fast failure waits
/// min(initial × 2^(k−1), max); a run that lasts `reset` or longer is healthy
/// and starts the count again.
public struct BackoffPolicy: Equatable, Sendable {
    public var initial: Duration
    public var maximum: Duration
    public var reset: Duration

    public static let standard = BackoffPolicy(initial: .seconds(2), maximum: .seconds(30), reset: .seconds(10))

    public init(initial: Duration, maximum: Duration, reset: Duration) {
        self.initial = initial
        self.maximum = maximum
        self.reset = reset
    }

    /// The wait before the next start after the `failure`-th consecutive fast failure (1-based).
    public func delay(afterFailure failure: Int) -> Duration {
        guard failure > 0 else { return .zero }
        var delay = initial
        var doublings = failure - 1
        while doublings > 0 && delay < maximum {
            // `+` rather than `* 2`: the generic Duration * Int is not
            // specialised and dominated a whole crash cycle's instructions.
            delay = delay + delay
            doublings -= 1
        }
        return min(delay, maximum)
    }

    /// True when the wait has reached its cap (crash-loop lines are folded from here on).
    public func isCapped(afterFailure failure: Int) -> Bool {
        failure > 0 && delay(afterFailure: failure) >= maximum
    }

    public func isHealthy(runTime: Duration) -> Bool { runTime >= reset }
}

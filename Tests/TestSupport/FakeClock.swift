import Supervision

/// The clock the pure tables are driven with: an instant that moves only
/// when a test advances it.
public struct FakeClock: Sendable {
    public private(set) var now: MonotonicInstant

    public init(at start: MonotonicInstant = MonotonicInstant(nanoseconds: 1_000_000_000_000)) {
        now = start
    }

    /// Moves the clock on and returns the new instant.
    @discardableResult
    public mutating func advance(_ duration: Duration) -> MonotonicInstant {
        now = now + duration
        return now
    }
}

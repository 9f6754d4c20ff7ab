import CKernelShim
import Supervision

extension MonotonicInstant {
    /// CLOCK_MONOTONIC now. Only the reactor reads the clock; the table is
    /// handed instants, so its tests run on a fake one.
    public static func now() -> MonotonicInstant { MonotonicInstant(nanoseconds: ksh_monotonic_ns()) }
}

import CKernelShim
import Supervision

/// A one-shot or periodic CLOCK_MONOTONIC deadline delivered through epoll.
public struct TimerFD: ~Copyable {
    private let descriptor: Descriptor
    public var fd: Int32 { descriptor.rawValue }

    public init() throws(SystemError) {
        descriptor = Descriptor(adopting: try retryingInterrupts("timerfd_create") { ksh_timerfd_create() })
    }

    /// Fires once after `delay` (at once for zero), then every `interval` if given.
    public func arm(after delay: Duration, every interval: Duration? = nil) throws(SystemError) {
        let delayNs = delay.saturatingNanoseconds
        let intervalNs = interval?.saturatingNanoseconds ?? 0
        _ = try retryingInterrupts("timerfd_settime") { ksh_timerfd_arm(fd, delayNs, intervalNs) }
    }

    public func disarm() throws(SystemError) {
        _ = try retryingInterrupts("timerfd_settime") { ksh_timerfd_disarm(fd) }
    }

    /// Consumes the readiness; returns how many expirations happened (0 if none).
    @discardableResult
    public func acknowledge() throws(SystemError) -> UInt64 {
        var expirations: UInt64 = 0
        _ = try retryingInterrupts("read(timerfd)") { ksh_timerfd_read(fd, &expirations) }
        return expirations
    }
}

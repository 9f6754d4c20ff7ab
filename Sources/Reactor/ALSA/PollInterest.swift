/// A descriptor the reactor must watch for a pending probe.
public struct PollInterest: Equatable, Sendable {
    public var fd: Int32
    /// EPOLLIN/EPOLLOUT bits (numerically the same as poll's POLLIN/POLLOUT).
    public var events: UInt32

    public init(fd: Int32, events: UInt32) {
        self.fd = fd
        self.events = events
    }
}

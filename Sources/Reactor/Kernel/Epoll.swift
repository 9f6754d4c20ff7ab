import CKernelShim

/// The epoll instance at the heart of the reactor.
public struct Epoll: ~Copyable {
    /// What an event belongs to, packed into epoll's 64-bit user data.
    /// Descriptor numbers are reused after close, so every registration also
    /// carries a generation: an event from a closed source that is still in
    /// the same `wait` batch no longer matches and is dropped by its owner.
    public struct Token: Equatable, Sendable {
        public var source: UInt16
        public var slot: UInt16
        public var generation: UInt32

        public init(source: UInt16, slot: UInt16 = 0, generation: UInt32 = 0) {
            self.source = source
            self.slot = slot
            self.generation = generation
        }

        init(packed: UInt64) {
            source = UInt16(truncatingIfNeeded: packed >> 48)
            slot = UInt16(truncatingIfNeeded: packed >> 32)
            generation = UInt32(truncatingIfNeeded: packed)
        }

        var packed: UInt64 { UInt64(source) << 48 | UInt64(slot) << 32 | UInt64(generation) }
    }

    public struct Readiness: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let input = Readiness(rawValue: KSH_EPOLLIN)
        public static let output = Readiness(rawValue: KSH_EPOLLOUT)
        public static let error = Readiness(rawValue: KSH_EPOLLERR)
        public static let hangup = Readiness(rawValue: KSH_EPOLLHUP)
    }

    public struct Event: Sendable {
        public var token: Token
        public var readiness: Readiness
    }

    private let descriptor: Descriptor
    /// Allocated once: the loop's steady state allocates nothing per wakeup.
    private let buffer: UnsafeMutableBufferPointer<ksh_event>

    public init(capacity: Int = 16) throws(SystemError) {
        descriptor = Descriptor(adopting: try retryingInterrupts("epoll_create1") { ksh_epoll_create() })
        buffer = .allocate(capacity: min(max(capacity, 1), 64))
    }

    deinit {
        buffer.deallocate()
    }

    public func add(_ fd: Int32, _ interest: Readiness, _ token: Token) throws(SystemError) {
        _ = try retryingInterrupts("epoll_ctl(ADD)") {
            ksh_epoll_ctl(descriptor.rawValue, KSH_EPOLL_CTL_ADD, fd, interest.rawValue, token.packed)
        }
    }

    /// Removing a descriptor that is already gone is not an error worth a trap.
    public func remove(_ fd: Int32) {
        _ = ksh_epoll_ctl(descriptor.rawValue, KSH_EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Blocks until at least one source is ready (or `timeoutMilliseconds`
    /// passes; -1 is forever) and calls `body` for each ready source.
    public func wait(
        timeoutMilliseconds: Int32 = -1,
        _ body: (Event) throws(SystemError) -> Void
    ) throws(SystemError) {
        let count = try retryingInterrupts("epoll_wait") {
            ksh_epoll_wait(descriptor.rawValue, buffer.baseAddress, Int32(buffer.count), timeoutMilliseconds)
        }
        for index in 0..<Int(count) {
            let raw = buffer[index]
            try body(Event(token: Token(packed: raw.token), readiness: Readiness(rawValue: raw.events)))
        }
    }
}

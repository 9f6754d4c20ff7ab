import CKernelShim
import Supervision
import CLibc

/// Signals delivered as readable data instead of asynchronous handlers.
public struct SignalFD: ~Copyable {
    public struct Delivery: Equatable, Sendable {
        public var signal: Int32
    }

    private let descriptor: Descriptor
    public var fd: Int32 { descriptor.rawValue }

    /// Blocks `signals` for the process and routes them to this descriptor.
    public init(_ signals: [Int32]) throws(SystemError) {
        // The array is passed as a pointer for the call (no typed throws through
        // withUnsafeBufferPointer, which Swift 6.0's stdlib declares `rethrows`).
        let raw = try retryingInterrupts("signalfd") { ksh_signalfd_open(signals, Int32(signals.count)) }
        descriptor = Descriptor(adopting: raw)
    }

    /// The next pending signal, or nil when none is left.
    public func next() throws(SystemError) -> Delivery? {
        var signal: Int32 = 0
        let got = try retryingInterrupts("read(signalfd)") { ksh_signalfd_read(fd, &signal) }
        return got == 1 ? Delivery(signal: signal) : nil
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// An owned file descriptor. Not copyable: exactly one owner closes it.
public struct Descriptor: ~Copyable, Sendable {
    public let rawValue: Int32

    public init(adopting rawValue: Int32) {
        self.rawValue = rawValue
    }

    deinit {
        // close() is never retried: after EINTR the descriptor is already gone.
        _ = Glibc.close(rawValue)
    }
}

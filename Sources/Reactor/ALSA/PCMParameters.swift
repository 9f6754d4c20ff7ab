import Supervision

/// What a readiness probe plays: a short stretch of silence in the format a
/// player would use, so that a device which accepts the probe will also
/// accept the player.
public struct PCMParameters: Equatable, Sendable {
    /// ALSA PCM name, e.g. `lb3c` or `hw:Loopback,0`.
    public var device: String
    public var rate: UInt32
    public var channels: UInt32
    /// How much audio must be accepted before the device counts as ready.
    public var duration: Duration

    public init(device: String, rate: UInt32 = 48000, channels: UInt32 = 2, duration: Duration = .seconds(1)) {
        self.device = device
        self.rate = rate
        self.channels = channels
        self.duration = duration
    }

    /// `duration` in frames at `rate`, at least one.
    var totalFrames: UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 1 }
        let nanoseconds = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        return max(1, nanoseconds * UInt64(rate) / 1_000_000_000)
    }

    /// `duration` in microseconds, the unit of ALSA's buffer and period times.
    var durationMicroseconds: UInt32 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let microseconds = UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000)
        return UInt32(clamping: microseconds)
    }
}

/// Where a probe stands after a call into it.
public enum ProbeProgress: Equatable, Sendable {
    /// Waiting for one of `PCMProbe.interests` to become ready.
    case pending
    /// `duration` worth of silence was accepted; the PCM is already closed.
    case succeeded
    /// The PCM refused; it is already closed.
    case failed(ProbeFailure)
}

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

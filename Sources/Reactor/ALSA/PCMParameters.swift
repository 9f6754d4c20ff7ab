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

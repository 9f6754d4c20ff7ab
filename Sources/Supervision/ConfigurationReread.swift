import CLibc

/// Whether alsa-lib's parsed configuration is read again before a probe.
///
/// alsa-lib caches its configuration even when reading it failed (EMFILE,
/// ENOMEM) and never re-reads included files such as /etc/asound.conf: an
/// open that failed other than with EBUSY may have seen a bad configuration,
/// so it is parsed again before a later probe, at most once per `spacing` so
/// that fast retries stay cheap. A later stage failing means the
/// configuration was fine, and busy waits (the long ones) keep the cache too:
/// re-reading costs time, and re-loading an external plugin's library after
/// each re-read grows the heap a little every time.
public struct ConfigurationReread: Equatable, Sendable {
    public static let spacing: Duration = .seconds(2)
    public private(set) var suspect = false
    private var readAt: MonotonicInstant?

    public init() {}

    public mutating func probeFailed(_ failure: ProbeFailure) {
        if failure.stage == .open && failure.errno != EBUSY { suspect = true }
    }

    /// The device opened: the configuration was good (and is freed anyway).
    public mutating func probeSucceeded() {
        suspect = false
    }

    /// True when the configuration is to be read again before this probe.
    public mutating func beforeProbe(at now: MonotonicInstant) -> Bool {
        guard suspect else { return false }
        if let readAt, now - readAt < Self.spacing { return false }
        readAt = now
        suspect = false
        return true
    }
}

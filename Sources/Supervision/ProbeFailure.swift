/// Why a readiness probe of the ALSA device failed: the step that failed and
/// the errno alsa-lib reported (positive; ETIMEDOUT for "no progress in time").
public struct ProbeFailure: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public enum Stage: String, Sendable {
        case open
        case hwParams = "hw_params"
        case swParams = "sw_params"
        case prepare
        case poll
        case write
        case timeout
    }

    public var stage: Stage
    public var errno: Int32

    public init(stage: Stage, errno: Int32) {
        self.stage = stage
        self.errno = errno
    }

    /// `open: EBUSY (Device or resource busy)`, `no progress within the probe deadline`.
    public var description: String {
        if stage == .timeout { return "no playback progress before the probe deadline" }
        return "\(stage.rawValue): \(Errno.describe(errno))"
    }

    /// `EBUSY` — short form for status lines.
    public var shortReason: String {
        if stage == .timeout { return "timeout" }
        return Errno.name(errno) ?? "errno \(errno)"
    }
}

import Supervision

/// Where a probe stands after a call into it.
public enum ProbeProgress: Equatable, Sendable {
    /// Waiting for one of `PCMProbe.interests` to become ready.
    case pending
    /// `duration` worth of silence was accepted; the PCM is already closed.
    case succeeded
    /// The PCM refused; it is already closed.
    case failed(ProbeFailure)
}

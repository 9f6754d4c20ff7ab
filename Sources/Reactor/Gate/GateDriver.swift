import Presentation
import Supervision

/// The ALSA readiness gate as the reactor sees it: a few event sources (the
/// PCM probe, the stale-player reaper, the device watchers), the owner of the
/// table's gate actions, and what status lines say about it (`GateStatus`).
public protocol GateDriver: GateStatus {
    /// The gate's parts, each attached to the loop as a source of its own.
    var sources: [any EventSource] { get }
    /// What the first failed probe of the current wait found, in a few words,
    /// for the one info line of a wait that ended within the holder grace.
    var firstFinding: String? { get }
    /// Carries out one of the table's gate actions (`isGateAction`): the gate
    /// is their one owner. An action that completes at once (a probe failing
    /// on open) returns its outcome.
    func perform(_ action: SupervisionAction, at now: MonotonicInstant) -> SupervisionEvent?
    /// A child was started (an exited one that left dmix state behind can be named).
    func childStarted(pid: Int32)
    /// A leftover as the log names it (`squeezelite -o lb3c`), or nil when
    /// none is ever ended (`--alsa-device` without `--stale-match`).
    var staleLeftover: String? { get }
    /// The player's exit was reaped: the watch of its device ends.
    func childExited()
}

extension GateDriver {
    /// A gate that names nothing (test doubles): no summary, no memory.
    public var firstFinding: String? { nil }
    public func childStarted(pid: Int32) {}
    public func childExited() {}
    public var runningHolder: RunningDeviceWatch.Holder? { nil }
    public func perform(_ action: SupervisionAction, at now: MonotonicInstant) -> SupervisionEvent? { nil }
}

import Supervision

/// The ALSA readiness gate as the reactor sees it: a few event sources (the
/// PCM probe, the stale-player reaper, the device watchers), the owner of the
/// table's gate actions, and what status lines say about it.
public protocol GateDriver: AnyObject {
    /// The PCM the gate probes (for log lines).
    var device: String { get }
    /// The gate's parts, each attached to the loop as a source of its own.
    var sources: [any EventSource] { get }
    /// Who held the sound devices at the last report (`pid 790 squeezelite`), for status lines.
    var heldBy: String? { get }
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
    /// A process not the player's that holds the device while the player
    /// runs, for the status line.
    var runningHolder: RunningDeviceWatch.Holder? { get }
}

extension GateDriver {
    /// A gate that names nothing (test doubles): no summary, no memory.
    public var firstFinding: String? { nil }
    public func childStarted(pid: Int32) {}
    public func childExited() {}
    public var runningHolder: RunningDeviceWatch.Holder? { nil }
    public func perform(_ action: SupervisionAction, at now: MonotonicInstant) -> SupervisionEvent? { nil }
}

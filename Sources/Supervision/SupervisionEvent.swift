/// What the reactor tells the state machine.
public enum SupervisionEvent: Equatable, Sendable {
    /// Supervision begins.
    case start
    /// The spawn action produced a running child.
    case spawned(pid: Int32)
    /// The spawn action produced no running child.
    case spawnFailed(SpawnFailure)
    /// The child exited and was reaped.
    case childExited(TerminationStatus)
    /// The supervisor's single deadline timer fired.
    case deadline
    /// A signal arrived at monitord.
    case signal(Int32)
    /// The readiness probe played its silence: the device is usable.
    case probeSucceeded
    /// The readiness probe failed.
    case probeFailed(ProbeFailure)
    /// A process closed a sound device node: the gate's device may be free.
    case deviceMayBeFree
}

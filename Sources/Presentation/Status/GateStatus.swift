import Supervision

/// What status lines say about the ALSA gate.
public protocol GateStatus: AnyObject {
    /// The PCM the gate probes (for log and status lines).
    var device: String { get }
    /// Who held the sound devices at the last report (`pid 790 squeezelite`), for status lines.
    var heldBy: String? { get }
    /// A process not the player's that holds the device while the player
    /// runs, for status lines.
    var runningHolder: RunningDeviceWatch.Holder? { get }
}

/// The ALSA readiness gate as the reactor sees it: a few event sources (the
/// PCM probe, the stale-player reaper, the device watcher) and what status
/// lines say about it.
public protocol GateDriver: AnyObject {
    /// The PCM the gate probes (for log lines).
    var device: String { get }
    /// The gate's parts, each attached to the loop as a source of its own.
    var sources: [any EventSource] { get }
    /// Who held the sound devices at the last report (`pid 790 squeezelite`), for status lines.
    var holderSummary: String? { get }
    /// A leftover as the log names it (`squeezelite -o lb3c`), or nil when
    /// none is ever ended (`--alsa-device` without `--stale-match`).
    var staleLeftover: String? { get }
}

/// The ALSA readiness gate as the reactor drives it: it owns the PCM probe,
/// the holder report and the stale-player reaper, and their epoll sources.
public protocol GateDriver: AnyObject {
    /// The PCM the gate probes (for log lines).
    var device: String { get }
    func register(in epoll: borrowing Epoll) throws(SystemError)
    /// One of the gate's own sources (probe descriptors, stale-player pidfds,
    /// its timer) is ready; returns the event to feed, if any.
    func dispatch(_ event: Epoll.Event, daemon: Daemon) throws(SystemError) -> SupervisorEvent?
    /// Carries out startProbe, abortProbe, reportHolders or reapStalePlayers;
    /// a probe that finishes at once returns its outcome.
    func perform(_ action: SupervisorAction, daemon: Daemon) -> SupervisorEvent?
    /// Who held the sound devices at the last report (`pid 790 squeezelite`), for status lines.
    var holderSummary: String? { get }
}

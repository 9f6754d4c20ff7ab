/// Everything the state machine needs to decide, fixed at start-up.
public struct SupervisionConfiguration: Equatable, Sendable {
    public var backoff: BackoffPolicy
    public var restart: RestartPolicy
    /// How long a stop signal may take before the group gets SIGKILL.
    public var stopTimeout: Duration
    /// How long to wait for an exit after SIGKILL before giving up on the child.
    public var killGrace: Duration
    /// nil: commands that do not play to an ALSA loopback start without a probe.
    public var gate: GateTiming?
    /// At the backoff cap, identical exits are logged once per this many.
    public var foldEvery: Int

    public init(
        backoff: BackoffPolicy = .standard,
        restart: RestartPolicy = .onFailure,
        stopTimeout: Duration = .seconds(3),
        killGrace: Duration = .seconds(1),
        gate: GateTiming? = nil,
        foldEvery: Int = 10
    ) {
        self.backoff = backoff
        self.restart = restart
        self.stopTimeout = stopTimeout
        self.killGrace = killGrace
        self.gate = gate
        self.foldEvery = max(foldEvery, 1)
    }
}

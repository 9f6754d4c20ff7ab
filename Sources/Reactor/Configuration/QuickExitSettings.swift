import Presentation
import Supervision

/// What the quick-exit leftover rule needs, fixed at start-up
/// (`Options.derived`): its table's numbers and the player's identity. It
/// exists only with `--stale-match`: the `-o` identity is a device's, and a
/// leftover that blocks a start without holding a device is told by
/// something else (its port, its configuration file), which only the
/// operator can name.
public struct QuickExitSettings: Equatable, Sendable {
    /// Quick exits in a row before a search (`--stale-after-exits`).
    public var threshold: Int
    /// A run this long is healthy (`--backoff-reset`).
    public var reset: Duration
    /// SIGTERM to SIGKILL, and SIGKILL to giving up.
    public var stopTimeout: Duration
    public var killGrace: Duration
    /// An exit 0 under `on-failure` ends supervision and counts for nothing.
    public var restart: RestartPolicy
    public var commandBaseName: String
    public var commandPath: String
    /// `--stale-match`, in order (never empty).
    public var staleMatch: [String]
    public var scriptCandidate: String?

    public init(threshold: Int, reset: Duration, stopTimeout: Duration, killGrace: Duration, restart: RestartPolicy,
                commandBaseName: String, commandPath: String, staleMatch: [String], scriptCandidate: String?) {
        self.threshold = threshold
        self.reset = reset
        self.stopTimeout = stopTimeout
        self.killGrace = killGrace
        self.restart = restart
        self.commandBaseName = commandBaseName
        self.commandPath = commandPath
        self.staleMatch = staleMatch
        self.scriptCandidate = scriptCandidate
    }
}

extension Options {
    /// The quick-exit rule's settings, or nil without `--stale-match`.
    public var quickExitSettings: QuickExitSettings? {
        guard !staleMatch.isEmpty, let first = command.first else { return nil }
        let table = SupervisionConfiguration(backoff: backoff, restart: restart, stopTimeout: stopTimeout)
        return QuickExitSettings(threshold: staleAfterExits, reset: backoff.reset, stopTimeout: table.stopTimeout,
                                 killGrace: table.killGrace, restart: restart, commandBaseName: Path.baseName(first),
                                 commandPath: first, staleMatch: staleMatch,
                                 scriptCandidate: InterpreterScript.candidate(in: command))
    }
}

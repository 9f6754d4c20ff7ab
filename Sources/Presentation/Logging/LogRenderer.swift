import Supervision
import CLibc

/// Turns the state machine's log records into the operator's sentences.
public struct LogRenderer: Sendable {
    public let commandName: String
    public let commandLine: [String]
    public let device: String?
    /// The gate's leftover as search lines name it (`squeezelite -o lb3c`);
    /// nil when none is ever ended, and those lines are then debug lines.
    public let staleLeftover: String?
    public let configuration: SupervisionConfiguration
    /// The command line as `started` lines show it, joined and cut once.
    private let shownCommandLine: String

    public init(commandName: String, commandLine: [String], device: String?, staleLeftover: String? = nil,
                configuration: SupervisionConfiguration) {
        self.commandName = commandName
        self.commandLine = commandLine
        self.device = device
        self.staleLeftover = staleLeftover
        self.configuration = configuration
        let joined = commandLine.joined(separator: " ")
        shownCommandLine = joined.utf8.count > 200 ? String(joined.prefix(200)) + "..." : joined
    }

    /// The record's priority, known without building its text: a line the
    /// logger would drop (debug lines in a crash loop) is never formatted.
    public func level(of record: LogRecord) -> LogLevel {
        switch record {
        case .started(_, _, let quiet): return quiet ? .debug : .info
        case .forwarded, .dropped: return .debug
        case .staleSearch: return staleLeftover == nil ? .debug : .info
        // Most waits end within the holder grace (a dmix leftover costs one
        // probe): the first failure is a detail, its end one info line.
        case .deviceUnavailable: return .debug
        case .deviceReady(_, _, let warned): return warned ? .notice : .info
        case .finishedCleanly, .stopping, .stopWhileWaiting, .stopped: return .notice
        case .exited, .folded, .hurrying, .killedAfterTimeout, .deviceUnavailableAfterGrace, .deviceStillUnavailable: return .warning
        case .spawnFailed, .cannotExecute, .unkillable: return .error
        }
    }

    /// The record's sentence. `firstFinding`: the gist of what the gate's
    /// first failed probe of this wait found, if it was reported.
    public func message(_ record: LogRecord, firstFinding: String? = nil) -> String {
        let name = commandName
        let pcm = device ?? "the device"
        switch record {
        case .started(let pid, let restart, _):
            let suffix = restart > 0 ? " (restart \(restart))" : ""
            return "started \(name) (pid \(pid))\(suffix): \(shownCommandLine)"
        case .exited(let pid, let status, let runTime, let next):
            // Only `--restart always` restarts after exit 0: say why it did.
            let why = status.isSuccess ? "restart always" : nil
            return "\(name) (pid \(pid)) \(status) after \(runTime.humanReadable); \(plan(next, why: why))"
        case .folded(let status, let count, let over, let next):
            return "\(name) \(status) again (\(count) times in \(over.humanReadable)); restarting every \(next.humanReadable)"
        case .finishedCleanly(let pid, let runTime):
            return "\(name) (pid \(pid)) exited 0 after \(runTime.humanReadable); supervision ends"
        case .spawnFailed(let failure, let next):
            return "cannot start \(name): \(describe(failure)); \(plan(next))"
        case .cannotExecute(let failure):
            return "cannot execute '\(commandLine[0])': \(Errno.text(failure.errno))"
        case .stopping(let signal, let pid) where configuration.stopTimeout == .zero:
            return "received \(Signals.name(signal)): killing \(name) (pid \(pid)) and its process group (stop timeout 0)"
        case .stopping(let signal, let pid):
            return "received \(Signals.name(signal)): stopping \(name) (pid \(pid)), SIGKILL after \(configuration.stopTimeout.humanReadable)"
        case .stopWhileWaiting(let signal):
            return "received \(Signals.name(signal)) with no child running: exiting"
        case .hurrying(let signal, let pid):
            return "received \(Signals.name(signal)) again: killing \(name) (pid \(pid)) and its process group now"
        case .killedAfterTimeout(let pid, let timeout):
            return "\(name) (pid \(pid)) did not stop within \(timeout.humanReadable): sent SIGKILL to its process group"
        case .stopped(let pid, let status):
            return "stopped: \(name) (pid \(pid)) \(status)"
        case .unkillable(let pid):
            return "\(name) (pid \(pid)) did not exit after SIGKILL (stuck in the kernel?); exiting without it"
        case .forwarded(let signal, let pid):
            return "forwarded \(Signals.name(signal)) to \(name) (pid \(pid))"
        case .dropped(let signal):
            return "dropped \(Signals.name(signal)): no child running"
        case .deviceUnavailable(let failure):
            let retry = configuration.gate?.probeRetry.humanReadable ?? "?"
            let interval = configuration.gate?.probeInterval.humanReadable ?? "?"
            let schedule = retry == interval ? "probing every \(interval)" : "probing again in \(retry), then less often (at most every \(interval))"
            return "\(pcm) is not available (\(failure)); holding \(name) back, \(schedule)"
        case .deviceUnavailableAfterGrace(let failure, let probes, let waited):
            let interval = configuration.gate?.probeInterval.humanReadable ?? "?"
            let tried = probes == 1 ? "1 probe" : "\(probes) probes"
            return "\(pcm) is not available (\(failure)) after \(waited.humanReadable), \(tried); holding \(name) back, probing at most every \(interval)"
        case .deviceStillUnavailable(let failure, let probes, let waited):
            return "\(pcm) still unavailable after \(waited.humanReadable), \(probes) probes (\(failure))"
        case .deviceReady(let after, let probes, let warned):
            let ready = "\(pcm) ready after \(after.humanReadable), \(probes) probes"
            // A hiccup's one line says what the first failed probe found; the
            // end of a warned wait says no more (the warning named it).
            guard !warned, let firstFinding else { return ready }
            return ready + ": " + firstFinding
        case .staleSearch(let failedProbes):
            guard let staleLeftover else { return "\(pcm) failed \(failedProbes) probes in a row: no --stale-match, nothing is ended" }
            return "\(pcm) failed \(failedProbes) probes in a row: looking for a stale \(staleLeftover)"
        }
    }

    private func plan(_ next: RestartPlan, why: String? = nil) -> String {
        let prefix = why.map { "\($0), " } ?? ""
        switch next {
        case .now: return "restarting now (\(prefix)a healthy run resets the backoff)"
        case .after(let delay, let failure):
            if delay <= .zero { return "restarting now (\(prefix)failure \(failure))" }
            return "restarting in \(delay.humanReadable) (\(prefix)failure \(failure))"
        }
    }

    private func describe(_ failure: SpawnFailure) -> String {
        switch failure.stage {
        case .clone: return "fork: \(Errno.describe(failure.errno))"
        case .exec: return "exec: \(Errno.describe(failure.errno))"
        case .watch: return "epoll_ctl: \(Errno.describe(failure.errno))"
        }
    }
}

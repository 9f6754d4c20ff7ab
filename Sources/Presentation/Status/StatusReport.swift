import Supervision

/// What the supervisor is doing, in the two forms the outside reads: the
/// one-line sd_notify `STATUS=` text and the status file's key=value fields,
/// whose last one, `summary`, is that same text.
public struct StatusReport: Equatable, Sendable {
    public var text: String
    public var fields: [Field]

    public struct Field: Equatable, Sendable {
        public var key: String
        public var value: String
        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }

    public var pairs: [(String, String)] { fields.map { ($0.key, $0.value) } }

    /// `now`/`wallNow` translate the backoff deadline (monotonic) into a wall
    /// clock time a web UI can show.
    public static func of(
        _ table: SupervisionTable, commandName: String, gate: (any GateStatus)?,
        now: MonotonicInstant, wallNow: Int64
    ) -> StatusReport {
        var fields: [Field] = []
        let text: String
        let restarts = table.restarts
        let restartsText = restarts == 1 ? "1 restart" : "\(restarts) restarts"
        switch table.phase {
        case .idle, .starting:
            fields.append(Field("state", "starting"))
            text = "starting \(commandName)"
        case .running(let pid, _):
            fields.append(Field("state", "running"))
            fields.append(Field("pid", "\(pid)"))
            var running = "running \(commandName) (pid \(pid)), \(restartsText)"
            if let holder = gate?.runningHolder, let device = gate?.device {
                fields.append(Field("holder_pid", "\(holder.pid)"))
                fields.append(Field("holder_command", holder.name))
                running += "; \(device) held by pid \(holder.pid) \(holder.name)"
            }
            text = running
        case .backingOff(let until):
            let wait = until - now
            fields.append(Field("state", "backing-off"))
            fields.append(Field("backoff_until", "\(wallNow + (wait.saturatingNanoseconds + 999_999_999) / 1_000_000_000)"))
            let after = table.lastExit.map { " after \(phrase($0))\($0.isSuccess ? " (restart always)" : "")" } ?? ""
            text = "restarting in \(wait.humanReadable)\(after), \(restartsText)"
        case .probing where table.failedProbes == 0:
            fields.append(Field("state", "probing"))
            text = "probing \(gate?.device ?? "the device")"
        case .probing, .waitingForDevice:
            fields.append(Field("state", "waiting-for-device"))
            let reason = table.lastProbeFailure?.shortReason ?? "?"
            let holders = gate?.heldBy.map { ", held by \($0)" } ?? ""
            let probes = table.failedProbes == 1 ? "1 failed probe" : "\(table.failedProbes) failed probes"
            text = "waiting for \(gate?.device ?? "the device"): \(reason)\(holders) (\(probes))"
        case .stopping(let pid), .killing(let pid):
            fields.append(Field("state", "stopping"))
            fields.append(Field("pid", "\(pid)"))
            text = "stopping \(commandName) (pid \(pid))"
        case .finished(let code):
            fields.append(Field("state", "stopped"))
            fields.append(Field("exit_code", "\(code)"))
            text = "stopped"
        }
        fields.append(Field("command", commandName))
        fields.append(Field("restart", table.configuration.restart.rawValue))
        fields.append(Field("restarts", "\(restarts)"))
        fields.append(Field("failures", "\(table.consecutiveFailures)"))
        if let last = table.lastExit { fields.append(Field("last_exit", token(last))) }
        if let gate {
            fields.append(Field("gate_device", gate.device))
            if let failure = table.lastProbeFailure {
                fields.append(Field("gate_reason", failure.description))
                fields.append(Field("gate_failed_probes", "\(table.failedProbes)"))
                if let holders = gate.heldBy { fields.append(Field("gate_holders", holders)) }
            }
        }
        // The sentence itself, last: an app shows what `systemctl status`
        // shows without re-deriving it from the fields above.
        fields.append(Field("summary", text))
        return StatusReport(text: text, fields: fields)
    }

    /// `exit:1`, `signal:SIGSEGV`: one token, easy to split.
    private static func token(_ status: TerminationStatus) -> String {
        switch status {
        case .exited(let code): return "exit:\(code)"
        case .signaled(let signal, _): return "signal:\(Signals.name(signal))"
        }
    }

    private static func phrase(_ status: TerminationStatus) -> String {
        switch status {
        case .exited(let code): return "exit \(code)"
        case .signaled(let signal, _): return Signals.name(signal)
        }
    }
}

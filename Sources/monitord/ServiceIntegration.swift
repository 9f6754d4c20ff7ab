import CKernelShim
import Reactor
import Presentation
import Supervision

/// sd_notify (READY, STATUS, STOPPING, WATCHDOG) and the status file, plugged
/// into the reactor's hooks. Both are optional and neither can stop supervision.
enum ServiceIntegration {
    static func hooks(options: Options, gate: (any GateDriver)?, logger: Logger) -> LoopHooks {
        var hooks = LoopHooks()
        let commandName = Path.baseName(options.command[0])
        // Read (and removed from the environment) before the first spawn, so
        // the child does not inherit NOTIFY_SOCKET or the watchdog variables.
        var notifier: ServiceNotifier?
        switch ServiceNotifier.fromEnvironment() {
        case .success(let found): notifier = found
        case .failure(let error): logger.log(.warning, "sd_notify disabled: \(error.message)")
        }
        let statusFile = options.statusFile.map(StatusFile.init(path:))
        guard notifier != nil || statusFile != nil else { return hooks }

        func report(_ table: SupervisionTable) -> StatusReport {
            StatusReport.of(table, commandName: commandName, gate: gate,
                            now: .now(), wallNow: ksh_realtime_s())
        }
        hooks.phaseChanged = { table in
            let status = report(table)
            notifier?.send("STATUS=\(status.text)")
            statusFile?.write(status.pairs)
        }
        hooks.notify = { notification in
            switch notification {
            case .ready: notifier?.send("READY=1")
            case .stopping: notifier?.send("STOPPING=1")
            }
        }
        hooks.tearDown = { table in
            // A finished table's last phase change wrote `state=stopped` already.
            guard !table.isFinished else { return }
            statusFile?.markStopped(report(table).pairs.filter { $0.0 != "state" })
        }
        if let interval = notifier?.watchdogInterval {
            hooks.watchdogInterval = interval
            hooks.watchdogPing = { notifier?.send("WATCHDOG=1") }
        }
        return hooks
    }
}

import Presentation
import CKernelShim
import Supervision
import CLibc

/// Watches the gated device while the player runs and carries out
/// `RunningDeviceWatch`: an inotify watch for opens and closes of the PCM's
/// node (or, when the route is unknown, of any `pcm*` node in the sound
/// directory), a /proc scan of its holders on each event and at the
/// player's start, and the table's actions (log a holder, show it in the
/// status line, end a leftover by the stale rule). No timer and no polling:
/// while nothing opens or closes the node, monitord does not wake up.
final class RunningDeviceWatcher: EventSource {
    private let settings: GateSettings
    private let reaper: StaleReaper
    private let inForce: StaleRuleInForce
    private var table: RunningDeviceWatch
    private var loop: LoopHandle?
    private var descriptor: Descriptor?
    private var generation: UInt32 = 0
    private var player: Int32?
    /// The node's name (`pcmC2D0p`), or nil: any `pcm*` node counts.
    private var node: String?
    /// The holder the status line names.
    var shown: RunningDeviceWatch.Holder? { table.shown }

    init(settings: GateSettings, reaper: StaleReaper, leftoverWindow: Duration) {
        self.settings = settings
        self.reaper = reaper
        inForce = StaleRuleInForce(settings)
        table = RunningDeviceWatch(leftoverWindow: leftoverWindow)
    }

    func attach(_ handle: LoopHandle) throws(SystemError) {
        loop = handle
    }

    /// The player `pid` runs: watch `node` (nil: every PCM node) and look now.
    func playerStarted(pid: Int32, node: String?, at now: MonotonicInstant) {
        guard let loop else { return }
        stopWatching()
        player = pid
        self.node = node
        table.playerStarted()
        let path = node.map { Self.join(settings.soundDirectory, $0) } ?? settings.soundDirectory
        let fd = ksh_inotify_watch_opens(path)
        guard fd >= 0 else {
            loop.logger.log(.debug, "not watching \(path) while \(settings.commandBaseName) runs (\(Errno.describe(Errno.current)))")
            return
        }
        generation &+= 1
        descriptor = loop.watchInput(adopting: fd, generation: generation)
        guard descriptor != nil else { return }
        look(at: now)
    }

    func playerExited() {
        stopWatching()
        player = nil
        let actions = table.playerExited()
        guard let now = loop?.now else { return }
        carryOut(actions, at: now)
    }

    private func stopWatching() {
        guard let fd = descriptor?.rawValue else { return }
        loop?.unwatch(fd)
        descriptor = nil
    }

    func ready(_ registration: LoopHandle.Registration, _ readiness: Epoll.Readiness) throws(SystemError) -> SupervisionEvent? {
        guard registration.generation == generation, let fd = descriptor?.rawValue else { return nil }
        let events = ksh_inotify_drain_node(fd, DeviceWatcher.prefix)
        if events < 0 {
            stopWatching()  // Unreadable: give up the watch rather than spin on it.
            return nil
        }
        if events > 0, let now = loop?.now { look(at: now) }
        return nil
    }

    var deadline: MonotonicInstant? { table.deadline }

    func deadlinePassed(at now: MonotonicInstant) -> SupervisionEvent? {
        carryOut(table.deadlinePassed(at: now), at: now)
        return nil
    }

    /// Scans the node's holders, classifies them and hands them to the table.
    private func look(at now: MonotonicInstant) {
        guard let player else { return }
        let own: Set<Int32> = [getpid(), player]
        let scan = DeviceHolders.scan(deviceDirectory: settings.soundDirectory, excluding: [getpid()])
        var seen: [RunningDeviceWatch.Holder] = []
        let rule = inForce.rule(uid: getuid(), excluded: own)
        for holder in scan.holders where holdsTheNode(holder) {
            if ProcessAncestry.descends(holder.pid, from: own) { continue }
            let leftover = inForce.endsLeftovers && StalePlayers.verify(pid: holder.pid, rule: rule)
            seen.append(RunningDeviceWatch.Holder(pid: holder.pid, name: GateDiagnosis.name(holder.commandLine),
                                                  kind: leftover ? .leftover : .intruder))
            commandLines[holder.pid] = GateDiagnosis.shown(holder.commandLine)
        }
        carryOut(table.holdersSeen(seen, at: now), at: now)
    }

    private var commandLines: [Int32: String] = [:]

    private func holdsTheNode(_ holder: DeviceHolder) -> Bool {
        guard let node else { return holder.devices.contains { Path.baseName($0).hasPrefix(DeviceWatcher.prefix) } }
        return holder.devices.contains { Path.baseName($0) == node }
    }

    private func carryOut(_ actions: [RunningDeviceWatch.Action], at now: MonotonicInstant) {
        let device = settings.parameters.device
        for action in actions {
            switch action {
            case .log(let holder):
                let what = commandLines[holder.pid] ?? holder.name
                let rule = holder.kind == .leftover
                    ? "a leftover of \(settings.commandBaseName): ended if it still holds \(device) after \(table.leftoverWindow.humanReadable)"
                    : "not a leftover of \(settings.commandBaseName) by the stale rule: named, never ended"
                loop?.logger.log(.info, "\(device) held by pid \(holder.pid) (\(what)) while \(settings.commandBaseName) runs; \(rule)")
            case .show:
                if table.shown == nil { commandLines.removeAll() }
                loop?.statusChanged()
            case .endLeftovers(let pids):
                guard let player else { continue }
                if let wait = reaper.end(holders: pids, excluding: [getpid(), player], for: table.leftoverWindow, at: now) {
                    table.notEnded(pids, retryAfter: wait, at: now)
                }
            }
        }
    }

    private static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

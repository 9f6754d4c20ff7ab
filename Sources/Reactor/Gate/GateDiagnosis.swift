import Supervision
import CLibc

/// What a failed probe found, as sentences: who holds the nodes behind this
/// PCM, and when nobody does, the dmix/dsnoop/dshare state behind it. Pure:
/// the gate gathers the facts (/proc, /proc/sysvipc, alsa-lib's
/// configuration) and this decides what they mean, so tests drive it with
/// made-up facts.
public struct GateDiagnosis: Equatable, Sendable {
    /// The full report, one line each, most important first.
    public var lines: [String]
    /// How many of the first `lines` name processes holding this PCM's
    /// device node: what the first failed probe logs at info.
    public var holderLineCount: Int
    /// A few words for the one info line of a hiccup ("dmix state left by
    /// squeezelite (pid 118, exited)").
    public var gist: String
    /// Up to three holders of this PCM's node for status lines ("pid 790
    /// squeezelite"); nil when no process holds it.
    public var heldBy: String?
    /// Said once per report at debug, never as a warning of its own.
    public var uninspected: String?
}

/// The facts one report is made of.
public struct GateFacts: Sendable {
    public struct Process: Equatable, Sendable {
        public var pid: Int32
        /// nil: it has exited.
        public var commandLine: [String]?
        public init(pid: Int32, commandLine: [String]?) {
            self.pid = pid
            self.commandLine = commandLine
        }
    }

    public var device: String
    public var soundDirectory: String
    public var failure: ProbeFailure?
    /// nil: the route is not known (an external plugin): every sound device
    /// user counts as a holder (none can be ruled out).
    public var route: PCMRoute?
    public var scan: HolderScan
    /// The route's direct-plugin segment and semaphore just before the
    /// failing probe, and now (the failed open itself removes an unattached
    /// leftover).
    public var segmentBefore: SharedMemorySegment?
    public var segmentNow: SharedMemorySegment?
    public var semaphoreBefore: SemaphoreSet?
    public var semaphoreNow: SemaphoreSet?
    /// Creator and last user of the segment, looked up.
    public var processes: [Process]
    /// Names of this monitord's earlier children by pid (an exited creator
    /// can still be named: it was ours).
    public var ownChildren: [Int32: String]
    /// Other PCMs of the configuration with the same key (looked up only
    /// when the segment is attached by someone else).
    public var sharingPCMs: [String]

    public init(device: String, soundDirectory: String, failure: ProbeFailure?, route: PCMRoute?, scan: HolderScan,
                segmentBefore: SharedMemorySegment? = nil, segmentNow: SharedMemorySegment? = nil,
                semaphoreBefore: SemaphoreSet? = nil, semaphoreNow: SemaphoreSet? = nil,
                processes: [Process] = [], ownChildren: [Int32: String] = [:], sharingPCMs: [String] = []) {
        self.device = device
        self.soundDirectory = soundDirectory
        self.failure = failure
        self.route = route
        self.scan = scan
        self.segmentBefore = segmentBefore
        self.segmentNow = segmentNow
        self.semaphoreBefore = semaphoreBefore
        self.semaphoreNow = semaphoreNow
        self.processes = processes
        self.ownChildren = ownChildren
        self.sharingPCMs = sharingPCMs
    }

    /// The segment that explains the failure: the one seen before the probe,
    /// or the one there now.
    var segment: SharedMemorySegment? { segmentBefore ?? segmentNow }

    /// Splits the scan into holders of this PCM's node and other users.
    var holdersAndOthers: (holders: [DeviceHolder], others: [DeviceHolder]) {
        guard let node = route?.nodeName else { return (scan.holders, []) }
        let path = soundDirectory.hasSuffix("/") ? soundDirectory + node : soundDirectory + "/" + node
        var holders: [DeviceHolder] = []
        var others: [DeviceHolder] = []
        for holder in scan.holders {
            if holder.devices.contains(where: { $0 == path || Path.baseName($0) == node }) {
                holders.append(holder)
            } else {
                others.append(holder)
            }
        }
        return (holders, others)
    }
}

extension GateDiagnosis {
    public static let maximumHoldersListed = 16

    public init(_ facts: GateFacts) {
        self.init(facts, split: facts.holdersAndOthers)
    }

    /// `split`: `facts.holdersAndOthers`, when the caller has it already.
    init(_ facts: GateFacts, split: (holders: [DeviceHolder], others: [DeviceHolder])) {
        var lines: [String] = []
        let (holders, others) = split
        var summary: String
        var heldBy: String?
        var holderLineCount = 0
        var namedPIDs: Set<Int32> = []
        let device = facts.device
        let direct = facts.route?.direct
        if !holders.isEmpty {
            for holder in holders.prefix(Self.maximumHoldersListed) {
                let nodes = holder.devices.map { Path.baseName($0) }.joined(separator: ",")
                lines.append("\(device) holder: pid \(holder.pid) (\(Self.shown(holder.commandLine))) has \(nodes) open")
            }
            if holders.count > Self.maximumHoldersListed {
                lines.append("\(holders.count - Self.maximumHoldersListed) more processes hold \(device)'s device")
            }
            holderLineCount = lines.count
            heldBy = holders.prefix(3).map { "pid \($0.pid) \(Self.name($0.commandLine))" }.joined(separator: ", ")
            summary = "held by " + (heldBy ?? "?")
        } else if let direct, let key = direct.key, let segment = facts.segment {
            let plugin = Self.describe(direct, key: key, route: facts.route)
            if segment.attachments == 0 {
                let creator = Self.who(segment.creatorPID, facts)
                let semaphore = (facts.semaphoreBefore ?? facts.semaphoreNow) != nil ? " and semaphore" : ""
                let cleared = facts.segmentNow == nil
                    ? "; the failed open removed it, so the next open starts afresh"
                    : "; still there (the next open of \(device) by its owner's user removes it)"
                lines.append("\(device): \(plugin): shared memory\(semaphore) left with no process attached, created by \(creator)\(cleared)")
                summary = "\(direct.type) state left by \(creator)"
            } else {
                let users = Self.users(segment, facts)
                for pid in [segment.creatorPID, segment.lastPID] where facts.processes.contains(where: { $0.pid == pid && $0.commandLine != nil }) {
                    namedPIDs.insert(pid)
                }
                var line = "\(device): \(plugin): shared memory attached by \(segment.attachments) process\(segment.attachments == 1 ? "" : "es") not holding \(device)'s device"
                if !users.isEmpty { line += ": " + users.joined(separator: "; ") }
                if !facts.sharingPCMs.isEmpty {
                    line += "; \(facts.sharingPCMs.joined(separator: ", ")) \(facts.sharingPCMs.count == 1 ? "has" : "have") the same key (\(SysVIPC.hex(key))) in the ALSA configuration"
                }
                lines.append(line)
                summary = "\(direct.type) key \(SysVIPC.hex(key)) in use by " + (users.first ?? "another process")
            }
        } else if let direct, let key = direct.key, let semaphore = facts.semaphoreBefore ?? facts.semaphoreNow {
            lines.append("\(device): \(Self.describe(direct, key: key, route: facts.route)): a semaphore set (id \(semaphore.id)) without shared memory")
            summary = "\(direct.type) semaphore \(SysVIPC.hex(key)) left without shared memory"
        } else if let error = facts.scan.failure {
            lines.append("cannot tell who holds \(facts.soundDirectory): reading /proc failed: \(Errno.describe(error))")
            summary = facts.failure.map { "\($0)" } ?? "no holder found"
        } else {
            var line = Self.unheld(device: device, soundDirectory: facts.soundDirectory, route: facts.route, failure: facts.failure)
            if facts.scan.unreadableProcesses > 0 {
                line += " (\(facts.scan.unreadableProcesses) processes of other users could not be inspected)"
            }
            lines.append(line)
            summary = (facts.failure.map { "\($0)" } ?? "failed") + ", no holder found"
        }
        // A process the dmix sentence already named is not repeated as context.
        let context = others.filter { !namedPIDs.contains($0.pid) }
        if !context.isEmpty && facts.route != nil {
            let others = context
            let listed = others.prefix(8).map {
                "pid \($0.pid) \(Self.name($0.commandLine)) (\($0.devices.map { Path.baseName($0) }.joined(separator: ",")))"
            }.joined(separator: ", ")
            let more = others.count > 8 ? " and \(others.count - 8) more" : ""
            lines.append("other \(facts.soundDirectory) users, not holding \(device)'s device (context only): \(listed)\(more)")
        }
        self.lines = lines
        self.holderLineCount = holderLineCount
        gist = summary
        self.heldBy = heldBy
        uninspected = facts.scan.unreadableProcesses > 0
            ? "\(facts.scan.unreadableProcesses) processes could not be inspected (not root): holders among them are not listed"
            : nil
    }

    /// "dmix lb1 (key 0x00003404: ipc_key 1028 on hw:3,0)".
    static func describe(_ direct: DirectPlugin, key: Int32, route: PCMRoute?) -> String {
        let name = direct.name.map { " \($0)" } ?? ""
        let uid = direct.addsUID ? " + uid" : ""
        let hardware = route?.hardwareName.map { " on \($0)" } ?? ""
        return "\(direct.type)\(name) (key \(SysVIPC.hex(key)): ipc_key \(direct.configuredKey)\(uid)\(hardware))"
    }

    /// "squeezelite (pid 118, exited)", "pid 118 (exited)", "pid 300 (squeezelite -o lb2c)".
    static func who(_ pid: Int32, _ facts: GateFacts) -> String {
        let process = facts.processes.first { $0.pid == pid }
        if let commandLine = process?.commandLine {
            return "pid \(pid) (\(shown(commandLine)))"
        }
        if let own = facts.ownChildren[pid] { return "\(own) (pid \(pid), exited)" }
        return "pid \(pid) (exited)"
    }

    /// The segment's creator and last user that are alive, with what they play to.
    static func users(_ segment: SharedMemorySegment, _ facts: GateFacts) -> [String] {
        var pids: [Int32] = []
        for pid in [segment.creatorPID, segment.lastPID] where pid > 0 && !pids.contains(pid) { pids.append(pid) }
        return pids.compactMap { pid in
            guard let commandLine = facts.processes.first(where: { $0.pid == pid })?.commandLine else { return nil }
            var text = "pid \(pid) (\(shown(commandLine)))"
            if let holder = facts.scan.holders.first(where: { $0.pid == pid }) {
                text += " playing to " + holder.devices.map { Path.baseName($0) }.joined(separator: ",")
            }
            return text
        }
    }

    /// The sentence when no process holds this PCM's device and no direct
    /// plugin state explains it, read from how the probe failed.
    static func unheld(device: String, soundDirectory: String, route: PCMRoute?, failure: ProbeFailure?) -> String {
        let none = route?.nodeName.map { "no process holds \(soundDirectory)/\($0)" } ?? "no process holds \(soundDirectory)/*"
        guard let failure, failure.stage != .timeout, !(failure.stage == .open && failure.errno == EBUSY) else {
            return "\(none): \(device) is busy inside the driver or held by another user"
        }
        if failure.stage == .open && failure.errno == ENOENT {
            return "\(none): \(device) is not defined in the ALSA configuration, or names a card that is not there (\(failure))"
        }
        return "\(none): \(device) fails unheld (\(failure)): a configuration or driver problem, or another user's process"
    }

    static func shown(_ commandLine: [String]) -> String {
        let joined = commandLine.isEmpty ? "?" : commandLine.joined(separator: " ")
        return joined.utf8.count > 160 ? String(joined.prefix(160)) + "..." : joined
    }

    static func name(_ commandLine: [String]) -> String {
        Path.baseName(commandLine.first ?? "?")
    }
}

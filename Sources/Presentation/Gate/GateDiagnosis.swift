import Supervision
import CLibc

/// What a failed probe found: a `Finding`, classified from the gate's facts,
/// rendered once into sentences. Pure: the gate gathers the facts (/proc,
/// /proc/sysvipc, alsa-lib's configuration) and this decides what they mean
/// and at which level each sentence is logged, so tests drive it with
/// made-up facts.
public struct GateDiagnosis: Equatable, Sendable {
    /// What explains the failure, most important first: a holder of this
    /// PCM's node outranks direct-plugin state, which outranks "nobody".
    public enum Finding: Equatable, Sendable {
        /// Processes hold this PCM's device node.
        case heldBy([DeviceHolder])
        /// The direct plugin's shared memory is left with no process attached.
        case directStateLeft(creatorPID: Int32)
        /// The direct plugin's key is in use by processes not holding the node.
        case directKeyInUse(attachments: Int)
        /// A semaphore set of the key without its shared memory.
        case semaphoreWithoutMemory(id: Int32)
        /// /proc could not be read: the holders are unknown.
        case holdersUnknown(errno: Int32)
        /// Nobody holds the node and no direct-plugin state explains it.
        case noHolderFound
    }

    /// When the report is made: it decides the levels of its lines.
    public enum Occasion: Sendable {
        /// The first failed probe of a wait.
        case firstFailedProbe
        /// The holder grace has ended with the device still unavailable.
        case graceEnded
    }

    public var finding: Finding
    /// The full report, one line each, most important first.
    public var lines: [String]
    /// How many of the first `lines` name processes holding this PCM's
    /// device node.
    public var holderLineCount: Int
    /// A few words for the one info line of a hiccup ("dmix state left by
    /// squeezelite (pid 118, exited)").
    public var gist: String
    /// Up to three holders of this PCM's node for status lines ("pid 790
    /// squeezelite"); nil when no process holds it.
    public var heldBy: String?
    /// Said once per report at debug, never as a warning of its own.
    public var uninspected: String?

    /// The report's lines with their levels. The first failed probe names
    /// the processes that hold this PCM's node at info; the rest is a detail
    /// (debug) whose gist goes to the ready line, so a dmix leftover met once
    /// costs that one info line. The grace's end gives the full report at
    /// warning. What could not be inspected is said at debug either way.
    public func entries(_ occasion: Occasion) -> [(level: LogLevel, line: String)] {
        var entries: [(level: LogLevel, line: String)] = []
        for (index, line) in lines.enumerated() {
            let level: LogLevel
            switch occasion {
            case .graceEnded: level = .warning
            case .firstFailedProbe: level = index < holderLineCount ? .info : .debug
            }
            entries.append((level, line))
        }
        if let uninspected { entries.append((.debug, uninspected)) }
        return entries
    }
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
    public var segment: SharedMemorySegment? { segmentBefore ?? segmentNow }

    /// The route's direct plugin and its key; only for a finding about
    /// direct-plugin state, which exists only when both do.
    var directKey: (DirectPlugin, Int32) { (route!.direct!, route!.direct!.key!) }

    /// Splits the scan into holders of this PCM's node and other users.
    public var holdersAndOthers: (holders: [DeviceHolder], others: [DeviceHolder]) {
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
    public init(_ facts: GateFacts, split: (holders: [DeviceHolder], others: [DeviceHolder])) {
        let finding = Self.classify(facts, holders: split.holders)
        self.finding = finding
        var lines: [String] = []
        var heldBy: String?
        var holderLineCount = 0
        var namedPIDs: Set<Int32> = []
        let device = facts.device
        let summary: String
        switch finding {
        case .heldBy(let holders):
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
        case .directStateLeft(let creatorPID):
            let (direct, key) = facts.directKey
            let creator = Self.who(creatorPID, facts)
            let semaphore = (facts.semaphoreBefore ?? facts.semaphoreNow) != nil ? " and semaphore" : ""
            let cleared = facts.segmentNow == nil
                ? "; the failed open removed it, so the next open starts afresh"
                : "; still there (the next open of \(device) by its owner's user removes it)"
            lines.append("\(device): \(Self.describe(direct, key: key, route: facts.route)): shared memory\(semaphore) left with no process attached, created by \(creator)\(cleared)")
            summary = "\(direct.type) state left by \(creator)"
        case .directKeyInUse(let attachments):
            let (direct, key) = facts.directKey
            let segment = facts.segment!
            let users = Self.users(segment, facts)
            for pid in [segment.creatorPID, segment.lastPID] where facts.processes.contains(where: { $0.pid == pid && $0.commandLine != nil }) {
                namedPIDs.insert(pid)
            }
            var line = "\(device): \(Self.describe(direct, key: key, route: facts.route)): shared memory attached by \(attachments) process\(attachments == 1 ? "" : "es") not holding \(device)'s device"
            if !users.isEmpty { line += ": " + users.joined(separator: "; ") }
            if !facts.sharingPCMs.isEmpty {
                line += "; \(facts.sharingPCMs.joined(separator: ", ")) \(facts.sharingPCMs.count == 1 ? "has" : "have") the same key (\(SysVIPC.hex(key))) in the ALSA configuration"
            }
            lines.append(line)
            summary = "\(direct.type) key \(SysVIPC.hex(key)) in use by " + (users.first ?? "another process")
        case .semaphoreWithoutMemory(let id):
            let (direct, key) = facts.directKey
            lines.append("\(device): \(Self.describe(direct, key: key, route: facts.route)): a semaphore set (id \(id)) without shared memory")
            summary = "\(direct.type) semaphore \(SysVIPC.hex(key)) left without shared memory"
        case .holdersUnknown(let error):
            lines.append("cannot tell who holds \(facts.soundDirectory): reading /proc failed: \(Errno.describe(error))")
            summary = facts.failure.map { "\($0)" } ?? "no holder found"
        case .noHolderFound:
            var line = Self.unheld(device: device, soundDirectory: facts.soundDirectory, route: facts.route, failure: facts.failure)
            if facts.scan.unreadableProcesses > 0 {
                line += " (\(facts.scan.unreadableProcesses) processes of other users could not be inspected)"
            }
            lines.append(line)
            summary = (facts.failure.map { "\($0)" } ?? "failed") + ", no holder found"
        }
        // A process the dmix sentence already named is not repeated as context.
        let context = split.others.filter { !namedPIDs.contains($0.pid) }
        if !context.isEmpty && facts.route != nil {
            let listed = context.prefix(8).map {
                "pid \($0.pid) \(Self.name($0.commandLine)) (\($0.devices.map { Path.baseName($0) }.joined(separator: ",")))"
            }.joined(separator: ", ")
            let more = context.count > 8 ? " and \(context.count - 8) more" : ""
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

    /// What explains the failure, from the facts.
    static func classify(_ facts: GateFacts, holders: [DeviceHolder]) -> Finding {
        if !holders.isEmpty { return .heldBy(holders) }
        if facts.route?.direct?.key != nil {
            if let segment = facts.segment {
                return segment.attachments == 0
                    ? .directStateLeft(creatorPID: segment.creatorPID)
                    : .directKeyInUse(attachments: segment.attachments)
            }
            if let semaphore = facts.semaphoreBefore ?? facts.semaphoreNow { return .semaphoreWithoutMemory(id: semaphore.id) }
        }
        if let error = facts.scan.failure { return .holdersUnknown(errno: error) }
        return .noHolderFound
    }
}

/// Who holds the gated device while the player runs, and what that comes
/// to: a pure value beside the supervision table, handed the time of each
/// event. The reactor watches the device node (open/close events), scans
/// /proc for its holders and classifies each; this decides what is said and
/// what is ended.
///
/// - The player and its descendants are no holders to report.
/// - Any other holder is named (logged once per process, and in the status
///   line) until it lets go.
/// - A leftover of the same player (the stale rule's identity) that holds
///   the device for `leftoverWindow` (the time the gate waits before its
///   first stale search) is ended. An intruder is never ended.
public struct RunningDeviceWatch: Equatable, Sendable {
    /// What a holder that is not the player's is, by the stale rule.
    public enum Kind: Equatable, Sendable {
        /// Another program, or the same one with another identity: named only.
        case intruder
        /// A leftover instance of this player: ended after the window.
        case leftover
    }

    /// One process holding the device that is not the player's.
    public struct Holder: Equatable, Sendable {
        public var pid: Int32
        /// Its program's name (`aplay`), for the status sentence.
        public var name: String
        public var kind: Kind

        public init(pid: Int32, name: String, kind: Kind) {
            self.pid = pid
            self.name = name
            self.kind = kind
        }
    }

    /// What the reactor does, in order.
    public enum Action: Equatable, Sendable {
        /// Log this holder once, at info (a holder not logged before in this run).
        case log(Holder)
        /// The status line names this holder (nil: no holder; clear it).
        case show(Holder?)
        /// End these leftovers by the stale rule (pin, re-verify, SIGTERM, SIGKILL).
        case endLeftovers([Int32])
    }

    public let leftoverWindow: Duration
    /// True while a player runs: holders count only then.
    public private(set) var watching = false
    /// A holder and when it was first seen holding the device.
    public struct Entry: Equatable, Sendable {
        public var holder: Holder
        public var since: MonotonicInstant
    }

    /// The holders that are not the player's, in the order the scan gave.
    public private(set) var holders: [Entry] = []
    /// The holder the status line names.
    public private(set) var shown: Holder?
    /// Holders logged in this run (each is logged once).
    private var logged: [Int32] = []
    /// Leftovers already handed over to be ended.
    private var ending: [Int32] = []

    public init(leftoverWindow: Duration) {
        self.leftoverWindow = leftoverWindow
    }

    /// A player was started: watch from now on, from a clean slate.
    public mutating func playerStarted() {
        self = RunningDeviceWatch(leftoverWindow: leftoverWindow)
        watching = true
    }

    /// The player exited: nothing is reported or ended until the next one runs.
    public mutating func playerExited() -> [Action] {
        let wasShown = shown != nil
        self = RunningDeviceWatch(leftoverWindow: leftoverWindow)
        return wasShown ? [.show(nil)] : []
    }

    /// The device's holders that are not the player's, as a scan found them
    /// after an open or close of its node (or at the player's start).
    public mutating func holdersSeen(_ seen: [Holder], at now: MonotonicInstant) -> [Action] {
        guard watching else { return [] }
        var actions: [Action] = []
        var kept: [Entry] = []
        for holder in seen {
            // A process keeps its since while it holds on; a new one starts now.
            let since = holders.first { $0.holder.pid == holder.pid && $0.holder.kind == holder.kind }?.since ?? now
            kept.append(Entry(holder: holder, since: since))
            if !logged.contains(holder.pid) {
                logged.append(holder.pid)
                actions.append(.log(holder))
            }
        }
        holders = kept
        ending.removeAll { pid in !seen.contains { $0.pid == pid } }
        let first = seen.first
        if first != shown {
            shown = first
            actions.append(.show(first))
        }
        actions += due(at: now)
        return actions
    }

    /// The instant a leftover's window ends, if one is held and not ended yet.
    public var deadline: MonotonicInstant? {
        var earliest: MonotonicInstant?
        for entry in holders where entry.holder.kind == .leftover && !ending.contains(entry.holder.pid) {
            let at = entry.since + leftoverWindow
            if earliest.map({ at < $0 }) ?? true { earliest = at }
        }
        return earliest
    }

    /// The stale rule could not start a round now (one is under way, or
    /// began less than a stop timeout ago): these leftovers are handed over
    /// again after `wait`, if they still hold the device then.
    public mutating func notEnded(_ pids: [Int32], retryAfter wait: Duration, at now: MonotonicInstant) {
        ending.removeAll { pids.contains($0) }
        for index in holders.indices where pids.contains(holders[index].holder.pid) {
            let due = now + wait
            holders[index].since = MonotonicInstant(nanoseconds: due.nanoseconds &- leftoverWindow.saturatingNanoseconds)
        }
    }

    public mutating func deadlinePassed(at now: MonotonicInstant) -> [Action] {
        guard watching else { return [] }
        return due(at: now)
    }

    /// Leftovers whose window has ended, handed over once each.
    private mutating func due(at now: MonotonicInstant) -> [Action] {
        var pids: [Int32] = []
        for entry in holders where entry.holder.kind == .leftover && !ending.contains(entry.holder.pid) {
            if now >= entry.since + leftoverWindow { pids.append(entry.holder.pid) }
        }
        guard !pids.isEmpty else { return [] }
        ending += pids
        return [.endLeftovers(pids)]
    }
}

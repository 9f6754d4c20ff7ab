// Supervision and the C library only: Benchmarks/callgrind.sh compiles this
// file as it is with Embedded Swift too (Benchmarks/callgrind/table-driver.swift).
import CLibc
import Supervision

/// State machine: transitions of `SupervisionTable.handle(_:at:)`, the pure
/// `(phase, event) -> (phase, actions)` function. Nothing here may allocate.
public struct Transitions {
    public private(set) var supervisor: SupervisionTable
    private var now = MonotonicInstant(nanoseconds: 1_000_000_000)
    private var pid: Int32 = 1000

    /// A supervisor with a child running (idle → starting → running).
    public init() {
        supervisor = SupervisionTable(configuration: SupervisionConfiguration())
        _ = supervisor.handle(.start, at: now)
        _ = supervisor.handle(.spawned(pid: pid), at: now)
    }

    /// One forward transition: running + SIGHUP → running, actions
    /// [log(forwarded), signalChild(SIGHUP)]. Returns the action count.
    @inline(never)
    public mutating func forwardSignal() -> Int {
        now = now + .milliseconds(1)
        return supervisor.handle(.signal(SIGHUP), at: now).count
    }

    /// One crash cycle, three transitions: running + childExited(exit 1) →
    /// backingOff (log exited, armDeadline), + deadline → starting (spawn),
    /// + spawned → running (log started). Returns the action count.
    @inline(never)
    public mutating func crashCycle() -> Int {
        // A 1 s run is shorter than the reset window (10 s): failures climb
        // to the 30 s cap within a few cycles, then identical exits fold
        // (one `folded` line every 10th), the steady state of a crash loop.
        now = now + .seconds(1)
        var count = supervisor.handle(.childExited(.exited(1)), at: now).count
        now = now + .seconds(30)
        count += supervisor.handle(.deadline, at: now).count
        pid = pid == 30000 ? 1000 : pid + 1
        count += supervisor.handle(.spawned(pid: pid), at: now).count
        return count
    }
}

import Glibc
import Testing
import TestSupport
@testable import Supervision

/// Identical exits at the backoff cap are folded into one line per ten. When
/// the fold ends — a different exit, a healthy run, a failed spawn, a stop —
/// the exits since the last summary are reported too: every exit is counted
/// in some line.
@Suite struct FoldAccountingTests {
    static let t0 = MonotonicInstant(nanoseconds: 7_000_000_000_000)
    static let policy = BackoffPolicy(initial: .milliseconds(10), maximum: .milliseconds(10), reset: .seconds(10))

    /// Runs `count` identical fast failures; returns the machine, the clock and the exit lines seen.
    static func crashLoop(count: Int, gate: GateTiming? = nil) -> (SupervisionTable, FakeClock, exits: Int, folded: [Int]) {
        var machine = SupervisionTable(configuration: SupervisionConfiguration(backoff: policy, gate: gate, foldEvery: 10))
        var clock = FakeClock(at: t0)
        var exits = 0
        var folded: [Int] = []
        _ = machine.handle(.start, at: clock.now)
        if gate != nil { _ = machine.handle(.probeSucceeded, at: clock.now) }
        for index in 0..<count {
            _ = machine.handle(.spawned(pid: Int32(100 + index)), at: clock.now)
            clock.advance(.milliseconds(1))
            for action in machine.handle(.childExited(.exited(1)), at: clock.now) {
                if case .log(.exited) = action { exits += 1 }
                if case .log(.folded(_, let n, _, _)) = action { folded.append(n) }
            }
            clock.advance(.milliseconds(10))
            _ = machine.handle(.deadline, at: clock.now)
            // With a gate, the last start stays in its probe.
            if gate != nil && index < count - 1 { _ = machine.handle(.probeSucceeded, at: clock.now) }
        }
        return (machine, clock, exits, folded)
    }

    static func foldedCounts(_ actions: SupervisionActions) -> [Int] {
        actions.compactMap { if case .log(.folded(_, let n, _, _)) = $0 { return n } else { return nil } }
    }

    @Test func aDifferentExitReportsTheRemainderFirst() {
        var (machine, clock, exits, folded) = Self.crashLoop(count: 17)
        // The first exit is logged (the delay is already the cap); the next 16
        // repeat it and are folded: one summary at 10, 6 not yet in a line.
        #expect(exits == 1 && folded == [10])
        _ = machine.handle(.spawned(pid: 999), at: clock.now)
        clock.advance(.milliseconds(1))
        let actions = machine.handle(.childExited(.exited(2)), at: clock.now)
        #expect(Self.foldedCounts(actions) == [16])
        let order = actions.compactMap { action -> String? in
            switch action {
            case .log(.folded): return "folded"
            case .log(.exited): return "exited"
            default: return nil
            }
        }
        #expect(order == ["folded", "exited"])
        #expect(exits + 16 + 1 == 18, "all 18 exits are in some line")
    }

    @Test func aStopReportsTheRemainder() {
        var (machine, clock, _, folded) = Self.crashLoop(count: 15)
        #expect(folded == [10])
        _ = machine.handle(.spawned(pid: 999), at: clock.now)
        _ = machine.handle(.signal(SIGTERM), at: clock.now)
        clock.advance(.milliseconds(1))
        let actions = machine.handle(.childExited(.signaled(SIGTERM, coreDumped: false)), at: clock.now)
        #expect(Self.foldedCounts(actions) == [14])
        #expect(machine.isFinished)
    }

    @Test func aStopDuringAProbeReportsTheRemainderWithinTheActionCapacity() {
        let gate = GateTiming(probeDuration: .seconds(1), probeInterval: .seconds(2), staleAfter: 4)
        var (machine, clock, _, folded) = Self.crashLoop(count: 14, gate: gate)
        #expect(folded == [10])
        // The last deadline began a probe that has not answered yet.
        #expect(machine.phase == .probing)
        let stop = machine.handle(.signal(SIGTERM), at: clock.now)
        #expect(Self.foldedCounts(stop) == [13])
        #expect(stop.contains(.exit(0)))
        #expect(stop.contains(.abortProbe))
        _ = clock
    }

    @Test func aMultipleOfTenAddsNoLine() {
        var (machine, clock, _, folded) = Self.crashLoop(count: 21)
        #expect(folded == [10, 20])
        _ = machine.handle(.spawned(pid: 999), at: clock.now)
        clock.advance(.milliseconds(1))
        let actions = machine.handle(.childExited(.exited(2)), at: clock.now)
        #expect(Self.foldedCounts(actions).isEmpty)
    }
}

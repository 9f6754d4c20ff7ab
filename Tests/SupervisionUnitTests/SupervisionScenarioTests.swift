import Glibc
import Testing
import TestSupport
@testable import Supervision

/// Longer runs of the state machine on a fake clock.
@Suite struct SupervisionScenarioTests {
    /// The state machine only sees the instants this clock hands it.
    static func clock() -> FakeClock { FakeClock(at: MonotonicInstant(nanoseconds: 5_000_000_000_000)) }

    static func deadlines(_ actions: SupervisionActions) -> [Duration] {
        actions.compactMap { if case .armDeadline(let d) = $0 { return d } else { return nil } }
    }

    /// Runs `count` crash cycles that each last `runTime`; returns the restart delays chosen.
    static func crashCycles(_ machine: inout SupervisionTable, _ clock: inout FakeClock, count: Int, runTime: Duration,
                            status: TerminationStatus = .exited(1)) -> [Duration] {
        var delays: [Duration] = []
        var pid: Int32 = 1000
        for _ in 0..<count {
            pid += 1
            _ = machine.handle(.spawned(pid: pid), at: clock.now)
            clock.advance(runTime)
            let actions = machine.handle(.childExited(status), at: clock.now)
            let armed = deadlines(actions)
            if let delay = armed.first {
                delays.append(delay)
                clock.advance(delay)
                #expect(machine.handle(.deadline, at: clock.now) == SupervisionActions([.spawn]))
            } else {
                delays.append(.zero)
                #expect(actions.contains(.spawn), "a zero delay restarts at once")
            }
        }
        return delays
    }

    @Test func backoffDoublesToTheCapAndResetsAfterAHealthyRun() {
        var clock = Self.clock()
        var machine = SupervisionTable(configuration: SupervisionConfiguration())
        _ = machine.handle(.start, at: clock.now)
        let fast = Self.crashCycles(&machine, &clock, count: 6, runTime: .milliseconds(300))
        #expect(fast == [2, 4, 8, 16, 30, 30].map { Duration.seconds($0) })
        // A run of at least the reset window restarts at once and resets the count.
        let healthy = Self.crashCycles(&machine, &clock, count: 1, runTime: .seconds(10))
        #expect(healthy == [.zero])
        #expect(machine.consecutiveFailures == 0)
        let again = Self.crashCycles(&machine, &clock, count: 3, runTime: .seconds(1))
        #expect(again == [2, 4, 8].map { Duration.seconds($0) })
    }

    /// `--restart always`: exit 0 goes through the same backoff (a short run
    /// is a fast failure whatever its status) and a healthy run resets it.
    @Test func restartAlwaysBacksOffExitZeroLikeAFailure() {
        var clock = Self.clock()
        var machine = SupervisionTable(configuration: SupervisionConfiguration(restart: .always))
        _ = machine.handle(.start, at: clock.now)
        let fast = Self.crashCycles(&machine, &clock, count: 6, runTime: .milliseconds(40), status: .exited(0))
        #expect(fast == [2, 4, 8, 16, 30, 30].map { Duration.seconds($0) })
        let healthy = Self.crashCycles(&machine, &clock, count: 1, runTime: .seconds(10), status: .exited(0))
        #expect(healthy == [.zero])
        #expect(machine.consecutiveFailures == 0)
        // Mixed statuses count as one sequence of fast failures.
        let mixed = Self.crashCycles(&machine, &clock, count: 1, runTime: .seconds(1), status: .exited(0))
            + Self.crashCycles(&machine, &clock, count: 1, runTime: .seconds(1), status: .exited(1))
        #expect(mixed == [.seconds(2), .seconds(4)])
        #expect(!machine.isFinished)
        // Only a stop signal ends it.
        _ = machine.handle(.spawned(pid: 9), at: clock.now)
        _ = machine.handle(.signal(SIGTERM), at: clock.now)
        let end = machine.handle(.childExited(.exited(0)), at: clock.now)
        #expect(end.contains(.exit(0)))
        #expect(machine.isFinished)
    }

    /// With the gate, an exit 0 under `--restart always` probes the device
    /// again after its backoff, as any restart does.
    @Test func restartAlwaysGoesThroughTheGate() {
        let gate = GateTiming(probeDuration: .seconds(1), probeInterval: .seconds(2))
        var machine = SupervisionTable(configuration: SupervisionConfiguration(restart: .always, gate: gate))
        var clock = Self.clock()
        _ = machine.handle(.start, at: clock.now)
        _ = machine.handle(.probeSucceeded, at: clock.now)
        _ = machine.handle(.spawned(pid: 5), at: clock.now)
        clock.advance(.milliseconds(40))
        let exit = machine.handle(.childExited(.exited(0)), at: clock.now)
        #expect(exit == SupervisionActions([
            .log(.exited(pid: 5, status: .exited(0), runTime: .milliseconds(40), next: .after(.seconds(2), failure: 1))),
            .armDeadline(.seconds(2)),
        ]))
        clock.advance(.seconds(2))
        #expect(machine.handle(.deadline, at: clock.now) == SupervisionActions([.startProbe, .armDeadline(gate.probeDeadline)]))
    }

    @Test func aRunJustShortOfTheResetWindowIsStillAFastFailure() {
        var clock = Self.clock()
        var machine = SupervisionTable(configuration: SupervisionConfiguration())
        _ = machine.handle(.start, at: clock.now)
        let delays = Self.crashCycles(&machine, &clock, count: 2, runTime: .seconds(10) - .milliseconds(1))
        #expect(delays == [.seconds(2), .seconds(4)])
    }

    @Test func zeroBackoffRestartsAtOnceWithoutATimer() {
        var clock = Self.clock()
        let policy = BackoffPolicy(initial: .zero, maximum: .zero, reset: .seconds(10))
        var machine = SupervisionTable(configuration: SupervisionConfiguration(backoff: policy))
        _ = machine.handle(.start, at: clock.now)
        let delays = Self.crashCycles(&machine, &clock, count: 5, runTime: .milliseconds(1))
        #expect(delays == Array(repeating: .zero, count: 5))
        #expect(machine.restarts == 5)
    }

    @Test func identicalExitsAtTheCapAreFolded() {
        var clock = Self.clock()
        let policy = BackoffPolicy(initial: .seconds(2), maximum: .seconds(8), reset: .seconds(10))
        var machine = SupervisionTable(configuration: SupervisionConfiguration(backoff: policy, foldEvery: 10))
        _ = machine.handle(.start, at: clock.now)
        var exitLines = 0
        var foldedCounts: [Int] = []
        var quietStarts = 0
        var pid: Int32 = 1
        for _ in 0..<33 {
            pid += 1
            let started = machine.handle(.spawned(pid: pid), at: clock.now)
            if started.contains(where: { if case .log(.started(_, _, true)) = $0 { return true }; return false }) { quietStarts += 1 }
            clock.advance(.milliseconds(100))
            for action in machine.handle(.childExited(.exited(1)), at: clock.now) {
                switch action {
                case .log(.exited): exitLines += 1
                case .log(.folded(_, let count, _, let next)):
                    foldedCounts.append(count)
                    #expect(next == .seconds(8))
                case .armDeadline(let delay): clock.advance(delay)
                default: break
                }
            }
            _ = machine.handle(.deadline, at: clock.now)
        }
        // The exits that chose 2, 4 and 8 s are logged (8 s is the cap); from
        // then on identical exits are folded, one line per ten.
        #expect(exitLines == 3)
        #expect(foldedCounts == [10, 20, 30])
        #expect(quietStarts == 29)
        // A different failure ends the fold and is logged in full.
        _ = machine.handle(.spawned(pid: 99), at: clock.now)
        let different = machine.handle(.childExited(.signaled(SIGSEGV, coreDumped: false)), at: clock.now + .milliseconds(5))
        #expect(different.contains { if case .log(.exited(_, .signaled(SIGSEGV, false), _, _)) = $0 { return true }; return false })
        #expect(!machine.isFolding)
    }

    @Test func execFailureAfterTheFirstStartIsAFastFailureNotFatal() {
        var clock = Self.clock()
        var machine = SupervisionTable(configuration: SupervisionConfiguration())
        _ = machine.handle(.start, at: clock.now)
        _ = machine.handle(.spawned(pid: 5), at: clock.now)
        clock.advance(.seconds(1))
        _ = machine.handle(.childExited(.exited(1)), at: clock.now)
        clock.advance(.seconds(2))
        _ = machine.handle(.deadline, at: clock.now)
        let failure = SpawnFailure(stage: .exec, errno: ENOENT)
        let actions = machine.handle(.spawnFailed(failure), at: clock.now)
        #expect(actions == SupervisionActions([.log(.spawnFailed(failure, next: .after(.seconds(4), failure: 2))), .armDeadline(.seconds(4))]))
        #expect(machine.phase == .backingOff(until: clock.now + .seconds(4)))
    }

    @Test func notExecutableAtFirstStartExits126() {
        var machine = SupervisionTable(configuration: SupervisionConfiguration())
        _ = machine.handle(.start, at: Self.clock().now)
        let actions = machine.handle(.spawnFailed(SpawnFailure(stage: .exec, errno: EACCES)), at: Self.clock().now)
        #expect(actions.contains(.exit(126)))
    }

    @Test func readyIsNotifiedOnceOnlyAtStart() {
        var clock = Self.clock()
        var machine = SupervisionTable(configuration: SupervisionConfiguration())
        #expect(machine.handle(.start, at: clock.now).contains(.notify(.ready)))
        #expect(!machine.handle(.spawned(pid: 1), at: clock.now).contains(.notify(.ready)))
        clock.advance(.seconds(20))
        _ = machine.handle(.childExited(.exited(2)), at: clock.now)
        #expect(!machine.handle(.spawned(pid: 2), at: clock.now).contains(.notify(.ready)))
    }

    /// A device held for ten minutes: READY came at the start, and never again
    /// through every failed probe and the spawn that finally follows.
    @Test func aLongGateWaitComesAfterReady() {
        var clock = Self.clock()
        let gate = GateTiming(probeDuration: .milliseconds(50), probeRetry: .milliseconds(50), probeInterval: .seconds(4),
                              staleAfter: 20)
        var machine = SupervisionTable(configuration: SupervisionConfiguration(gate: gate))
        let start = clock.now
        var all = Array(machine.handle(.start, at: clock.now))
        #expect(all.first == .notify(.ready))
        var probes = 0
        while clock.now - start < .seconds(600) {
            all += Array(machine.handle(.probeFailed(ProbeFailure(stage: .open, errno: EBUSY)), at: clock.now))
            probes += 1
            clock.advance(.seconds(4))
            all += Array(machine.handle(.deadline, at: clock.now))
        }
        all += Array(machine.handle(.probeSucceeded, at: clock.now))
        all += Array(machine.handle(.spawned(pid: 9), at: clock.now))
        #expect(probes >= 150 && machine.phase == .running(pid: 9, since: clock.now))
        #expect(all.filter { $0 == .notify(.ready) }.count == 1)
    }
}

/// The readiness gate's rows, over time.
@Suite struct SupervisorGateScenarioTests {
    static let gate = GateTiming(probeDuration: .seconds(1), probeRetry: .seconds(2), probeInterval: .seconds(2), staleAfter: 4,
                                        reminders: [.seconds(60), .seconds(300), .seconds(900)])
    static let busy = ProbeFailure(stage: .open, errno: EBUSY)

    @Test func waitsQuietlyRemindsAtGrowingIntervalsAndSearchesForStalePlayers() {
        var clock = FakeClock(at: MonotonicInstant(nanoseconds: 1_000_000_000))
        var machine = SupervisionTable(configuration: SupervisionConfiguration(gate: Self.gate))
        _ = machine.handle(.start, at: clock.now)
        var warnings: [Int] = []       // probe numbers that logged a line
        var staleSearches: [Int] = []
        var holderReports = 0
        var holderWarnings = 0
        for probe in 1...500 {          // 500 probes ≈ 16m40s at 2 s apart
            let actions = machine.handle(.probeFailed(Self.busy), at: clock.now)
            for action in actions {
                switch action {
                case .log(.deviceUnavailableAfterGrace), .log(.deviceStillUnavailable): warnings.append(probe)
                case .reapStalePlayers: staleSearches.append(probe)
                case .reportHolders: holderReports += 1
                case .warnHolders: holderWarnings += 1
                default: break
                }
            }
            clock.advance(.seconds(2))
            #expect(machine.handle(.deadline, at: clock.now) == SupervisionActions([.startProbe, .armDeadline(Self.gate.probeDeadline)]))
        }
        // The first probe past the 1 s grace, then 1 min, 5 min and 15 min
        // after the first failure: quiet in between.
        #expect(warnings == [2, 31, 151, 451])
        #expect(holderReports == 1)
        #expect(holderWarnings == 1)
        // Stale-player searches back off: 4, 8, 16, ... then every 128 probes.
        #expect(staleSearches == [4, 8, 16, 32, 64, 128, 256, 384])

        let ready = machine.handle(.probeSucceeded, at: clock.now)
        #expect(ready == SupervisionActions([.cancelDeadline, .log(.deviceReady(after: .seconds(1000), probes: 501, warned: true)), .spawn]))
        #expect(machine.failedProbes == 0)
    }

    @Test func remindersRepeatAtTheLastSpacing() {
        let start = MonotonicInstant(nanoseconds: 0)
        #expect(Self.gate.reminder(0, after: start) == start + .seconds(60))
        #expect(Self.gate.reminder(2, after: start) == start + .seconds(900))
        #expect(Self.gate.reminder(3, after: start) == start + .seconds(1500))
        #expect(Self.gate.reminder(4, after: start) == start + .seconds(2100))
    }

    @Test func aNewOutageAfterRecoveryWarnsAgain() {
        var clock = FakeClock(at: MonotonicInstant(nanoseconds: 0))
        var machine = SupervisionTable(configuration: SupervisionConfiguration(gate: Self.gate))
        _ = machine.handle(.start, at: clock.now)
        _ = machine.handle(.probeFailed(Self.busy), at: clock.now)
        clock.advance(.seconds(2))
        _ = machine.handle(.deadline, at: clock.now)
        _ = machine.handle(.probeSucceeded, at: clock.now)
        _ = machine.handle(.spawned(pid: 3), at: clock.now)
        clock.advance(.seconds(1))
        _ = machine.handle(.childExited(.exited(1)), at: clock.now)
        clock.advance(.seconds(2))
        _ = machine.handle(.deadline, at: clock.now)
        let again = machine.handle(.probeFailed(Self.busy), at: clock.now)
        #expect(again.contains(.log(.deviceUnavailable(Self.busy))))
        #expect(again.contains(.reportHolders))
    }
}

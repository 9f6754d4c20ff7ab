import CLibc
import Supervision
import Testing
import TestSupport

/// The holder grace: a device ready again within it costs one info line
/// (`deviceReady`, not warned); still unavailable after it, the warning and
/// the full holder report come once, at the first failed probe past it.
@Suite struct HolderGraceTests {
    static let leftover = ProbeFailure(stage: .open, errno: EINVAL)

    static func gate(grace: Duration) -> GateTiming {
        GateTiming(probeDuration: .milliseconds(50), probeRetry: .milliseconds(50), probeInterval: .seconds(4),
                   staleAfter: 1000, holderGrace: grace)
    }

    /// Runs `failures` failed probes, each followed by its deadline, from t = 0;
    /// returns every action and the time of the last event.
    static func fail(_ machine: inout SupervisionTable, times failures: Int, from start: MonotonicInstant)
        -> (actions: [SupervisionAction], now: MonotonicInstant) {
        var clock = FakeClock(at: start)
        var all: [SupervisionAction] = []
        _ = machine.handle(.start, at: clock.now)
        for _ in 0..<failures {
            let actions = machine.handle(.probeFailed(Self.leftover), at: clock.now)
            all += actions.map { $0 }
            guard case .armDeadline(let delay)? = actions.map({ $0 }).last else { return (all, clock.now) }
            clock.advance(delay)
            all += machine.handle(.deadline, at: clock.now).map { $0 }
        }
        return (all, clock.now)
    }

    @Test func aLeftoverMetOnceIsOneInfoLineWithNoWarning() {
        var machine = SupervisionTable(configuration: SupervisionConfiguration(gate: Self.gate(grace: .seconds(1))))
        let start = MonotonicInstant(nanoseconds: 5_000_000_000)
        let (actions, now) = Self.fail(&machine, times: 1, from: start)
        #expect(actions.contains(.log(.deviceUnavailable(Self.leftover))))
        #expect(actions.contains(.reportHolders))
        #expect(!actions.contains(.warnHolders))
        #expect(!actions.contains { if case .log(.deviceUnavailableAfterGrace) = $0 { return true } else { return false } })
        let ready = machine.handle(.probeSucceeded, at: now + .milliseconds(2))
        #expect(ready == SupervisionActions([.cancelDeadline,
                                             .log(.deviceReady(after: .milliseconds(52), probes: 2, warned: false)), .spawn]))
    }

    @Test func stillUnavailableAfterTheGraceWarnsOnceWithTheFullReport() {
        var machine = SupervisionTable(configuration: SupervisionConfiguration(gate: Self.gate(grace: .seconds(1))))
        let start = MonotonicInstant(nanoseconds: 0)
        // Waits: 50 ms, then a quarter of the time waited: 50, 50, 50, 50, 62.5 ... past 1 s by the 12th probe.
        let (actions, now) = Self.fail(&machine, times: 40, from: start)
        let warnings = actions.filter {
            if case .log(.deviceUnavailableAfterGrace(_, _, let waited)) = $0 { return waited >= .seconds(1) && waited < .milliseconds(1400) }
            return false
        }
        #expect(warnings.count == 1)
        #expect(actions.filter { $0 == .warnHolders }.count == 1)
        #expect(actions.filter { $0 == .reportHolders }.count == 1)
        // The warning comes before its report, and after the first (debug) one.
        let warned = actions.firstIndex { if case .log(.deviceUnavailableAfterGrace) = $0 { return true } else { return false } }!
        #expect(actions.firstIndex(of: .reportHolders)! < warned)
        #expect(actions[warned + 1] == .warnHolders)
        #expect(machine.gateWarned)
        let ready = machine.handle(.probeSucceeded, at: now)
        #expect(ready.contains(.log(.deviceReady(after: now - start, probes: 41, warned: true))))
    }

    @Test func theGraceEndsAtTheFirstFailedProbePastItNotBefore() {
        var machine = SupervisionTable(configuration: SupervisionConfiguration(gate: Self.gate(grace: .milliseconds(300))))
        var clock = FakeClock(at: MonotonicInstant(nanoseconds: 0))
        _ = machine.handle(.start, at: clock.now)
        _ = machine.handle(.probeFailed(Self.leftover), at: clock.now)
        clock.advance(.milliseconds(299))
        _ = machine.handle(.deadline, at: clock.now)
        #expect(!machine.handle(.probeFailed(Self.leftover), at: clock.now).contains(.warnHolders))
        clock.advance(.milliseconds(1))
        _ = machine.handle(.deadline, at: clock.now)
        let atGrace = machine.handle(.probeFailed(Self.leftover), at: clock.now)
        #expect(atGrace.contains(.log(.deviceUnavailableAfterGrace(Self.leftover, probes: 3, waited: .milliseconds(300)))))
        #expect(atGrace.contains(.warnHolders))
    }

    @Test func noGraceWarnsAtTheFirstFailedProbeWithOneReport() {
        var machine = SupervisionTable(configuration: SupervisionConfiguration(gate: Self.gate(grace: .zero)))
        let now = MonotonicInstant(nanoseconds: 0)
        _ = machine.handle(.start, at: now)
        let first = machine.handle(.probeFailed(Self.leftover), at: now)
        #expect(first == SupervisionActions([
            .cancelDeadline, .log(.deviceUnavailable(Self.leftover)),
            .log(.deviceUnavailableAfterGrace(Self.leftover, probes: 1, waited: .zero)), .warnHolders,
            .armDeadline(.milliseconds(50)),
        ]))
    }

    @Test func aGraceLongerThanTheFirstReminderDoesNotRepeatTheWarningAtOnce() {
        let gate = GateTiming(probeRetry: .seconds(10), probeInterval: .seconds(10), staleAfter: 1000,
                              reminders: [.seconds(60), .seconds(300)], holderGrace: .seconds(120))
        var machine = SupervisionTable(configuration: SupervisionConfiguration(gate: gate))
        var clock = FakeClock(at: MonotonicInstant(nanoseconds: 0))
        _ = machine.handle(.start, at: clock.now)
        var lines: [Duration] = []
        for _ in 0..<40 {   // 400 s
            for action in machine.handle(.probeFailed(Self.leftover), at: clock.now) {
                if case .log(.deviceUnavailableAfterGrace(_, _, let waited)) = action { lines.append(waited) }
                if case .log(.deviceStillUnavailable(_, _, let waited)) = action { lines.append(waited) }
            }
            clock.advance(.seconds(10))
            _ = machine.handle(.deadline, at: clock.now)
        }
        // The grace's warning at 120 s; the 60 s reminder is past, the 300 s one comes.
        #expect(lines == [.seconds(120), .seconds(300)])
    }

    @Test func aNewWaitAfterAWarnedOneStartsWithAGraceAgain() {
        var machine = SupervisionTable(configuration: SupervisionConfiguration(gate: Self.gate(grace: .milliseconds(100))))
        var clock = FakeClock(at: Self.fail(&machine, times: 10, from: MonotonicInstant(nanoseconds: 0)).now)
        #expect(machine.gateWarned)
        _ = machine.handle(.probeSucceeded, at: clock.now)
        _ = machine.handle(.spawned(pid: 7), at: clock.now)
        #expect(!machine.gateWarned)
        clock.advance(.seconds(20))
        _ = machine.handle(.childExited(.exited(1)), at: clock.now)   // after a healthy run: through the gate at once
        let again = machine.handle(.probeFailed(Self.leftover), at: clock.now)
        #expect(again.contains(.reportHolders))
        #expect(!again.contains(.warnHolders))
    }

    @Test func withAFixedScheduleTheGraceStillEndsOnTime() {
        // retry = interval = 2 s: the wait after the first failure is cut to
        // the grace's end, so the warning is not a whole interval late.
        let gate = GateTiming(probeDuration: .seconds(1), probeRetry: .seconds(2), probeInterval: .seconds(2), staleAfter: 4)
        var machine = SupervisionTable(configuration: SupervisionConfiguration(gate: gate))
        let start = MonotonicInstant(nanoseconds: 0)
        _ = machine.handle(.start, at: start)
        let first = machine.handle(.probeFailed(Self.leftover), at: start + .milliseconds(300))
        #expect(first.contains(.armDeadline(.milliseconds(1000))))
        _ = machine.handle(.deadline, at: start + .milliseconds(1300))
        let second = machine.handle(.probeFailed(Self.leftover), at: start + .milliseconds(1350))
        #expect(second.contains(.warnHolders))
        #expect(second.contains(.armDeadline(.seconds(2))))
    }
}

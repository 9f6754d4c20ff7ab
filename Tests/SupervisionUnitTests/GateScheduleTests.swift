import Glibc
import Testing
import TestSupport
import Supervision

/// The gate's schedule on its own, on the fake clock (the table's rows that
/// use it are in SupervisionTableTests and HolderGraceTests).
@Suite struct GateScheduleTests {
    static let timing = GateTiming(probeDuration: .milliseconds(50), probeRetry: .milliseconds(100), probeInterval: .seconds(4),
                                   staleAfter: 3, reminders: [.seconds(60)], holderGrace: .seconds(1))
    static let busy = ProbeFailure(stage: .open, errno: EBUSY)

    @Test func theFirstFailureLogsAndNamesTheHoldersThenWaitsTheRetry() {
        var schedule = GateSchedule(timing: Self.timing)
        let clock = FakeClock()
        schedule.probeBegins(at: clock.now)
        var actions = SupervisionActions()
        #expect(schedule.failed(Self.busy, at: clock.now, &actions) == .milliseconds(100))
        #expect(actions == SupervisionActions([.log(.deviceUnavailable(Self.busy)), .reportHolders]))
        #expect(schedule.failedProbes == 1)
        #expect(schedule.lastProbeFailure == Self.busy)
        #expect(!schedule.warned)
    }

    @Test func theGraceEndsWithTheWarningAndTheFullReportOnce() {
        var schedule = GateSchedule(timing: Self.timing)
        var clock = FakeClock()
        var actions = SupervisionActions()
        _ = schedule.failed(Self.busy, at: clock.now, &actions)
        clock.advance(.seconds(1))
        actions = SupervisionActions()
        _ = schedule.failed(Self.busy, at: clock.now, &actions)
        #expect(actions == SupervisionActions([.log(.deviceUnavailableAfterGrace(Self.busy, probes: 2, waited: .seconds(1))),
                                               .warnHolders]))
        #expect(schedule.warned)
        clock.advance(.milliseconds(100))
        actions = SupervisionActions()
        _ = schedule.failed(Self.busy, at: clock.now, &actions)
        // The third failure is the stale search (stale-after 3), and no second warning.
        #expect(actions == SupervisionActions([.log(.staleSearch(failedProbes: 3)), .reapStalePlayers]))
    }

    @Test func theWaitIsCutToTheGracesEnd() {
        var schedule = GateSchedule(timing: GateTiming(probeRetry: .seconds(2), probeInterval: .seconds(4), holderGrace: .seconds(1)))
        let clock = FakeClock()
        var actions = SupervisionActions()
        #expect(schedule.failed(Self.busy, at: clock.now, &actions) == .seconds(1))
    }

    @Test func aReleaseRightAfterAProbeBeganWaitsTheReleaseGap() {
        var schedule = GateSchedule(timing: Self.timing)
        var clock = FakeClock()
        schedule.probeBegins(at: clock.now)
        var actions = SupervisionActions()
        _ = schedule.failed(Self.busy, at: clock.now, &actions)
        clock.advance(.milliseconds(20))
        #expect(schedule.released(at: clock.now) == .probeAfter(.milliseconds(30)))
        // A second release before that probe: the one already due comes first.
        #expect(schedule.released(at: clock.now) == .keepWaiting)
        clock.advance(.milliseconds(30))
        #expect(schedule.released(at: clock.now) == .probeNow)
    }

    @Test func aReadyDeviceEndsTheWaitWithOneLineAndStartsAfresh() {
        var schedule = GateSchedule(timing: Self.timing)
        var clock = FakeClock()
        #expect(schedule.succeeded(at: clock.now) == nil)  // No wait: no line.
        var actions = SupervisionActions()
        _ = schedule.failed(Self.busy, at: clock.now, &actions)
        clock.advance(.milliseconds(150))
        #expect(schedule.succeeded(at: clock.now) == .deviceReady(after: .milliseconds(150), probes: 2, warned: false))
        #expect(schedule.failedProbes == 0)
        #expect(schedule.lastProbeFailure == nil)
        actions = SupervisionActions()
        _ = schedule.failed(Self.busy, at: clock.now, &actions)
        #expect(actions == SupervisionActions([.log(.deviceUnavailable(Self.busy)), .reportHolders]))
    }
}

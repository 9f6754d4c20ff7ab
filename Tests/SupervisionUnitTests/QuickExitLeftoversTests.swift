import Testing
import TestSupport
import Supervision

/// Every phase × event cell of the quick-exit leftover rule, on the fake clock.
@Suite struct QuickExitLeftoversTests {
    static let reset = Duration.seconds(10)

    static func table(threshold: Int = 3) -> QuickExitLeftovers {
        QuickExitLeftovers(threshold: threshold, reset: reset, stopTimeout: .seconds(3), killGrace: .seconds(1))
    }

    /// A table whose search signalled `count` leftovers at `clock.now`.
    static func terminating(_ clock: FakeClock, count: Int = 1) -> QuickExitLeftovers {
        var rule = table()
        for _ in 0..<2 { #expect(rule.exited(runTime: .milliseconds(50)) == .passOn) }
        #expect(rule.exited(runTime: .milliseconds(50)) == .search(first: true))
        #expect(rule.signalled(count, at: clock.now) == .hold)
        return rule
    }

    @Test func theThirdQuickExitInARowAsksForASearch() {
        var rule = Self.table()
        #expect(rule.exited(runTime: .zero) == .passOn)
        #expect(rule.exited(runTime: .seconds(1)) == .passOn)
        #expect(rule.streak == 2)
        #expect(rule.exited(runTime: Self.reset - .milliseconds(1)) == .search(first: true))
        #expect(rule.streak == 3)
        #expect(rule.deadline == nil)
    }

    @Test func theThresholdIsTheOptionsN() {
        var one = Self.table(threshold: 1)
        #expect(one.exited(runTime: .zero) == .search(first: true))
        var five = Self.table(threshold: 5)
        for _ in 0..<4 { #expect(five.exited(runTime: .zero) == .passOn) }
        #expect(five.exited(runTime: .zero) == .search(first: true))
    }

    @Test func aRunThatLastsTheResetStartsTheCountAgain() {
        var rule = Self.table()
        #expect(rule.exited(runTime: .zero) == .passOn)
        #expect(rule.exited(runTime: .zero) == .passOn)
        #expect(rule.exited(runTime: Self.reset) == .passOn)
        #expect(rule.streak == 0)
        #expect(rule.exited(runTime: .zero) == .passOn)
        #expect(rule.exited(runTime: .zero) == .passOn)
        #expect(rule.exited(runTime: .zero) == .search(first: true))
    }

    @Test func anExitThatEndsSupervisionNeitherCountsNorSearches() {
        var rule = Self.table(threshold: 1)
        #expect(rule.exited(runTime: .zero, endsSupervision: true) == .passOn)
        #expect(rule.streak == 0)
    }

    @Test func aSearchThatFindsNothingHandsTheExitOnAndSearchesAtTheNextQuickExit() {
        let clock = FakeClock()
        var rule = Self.table()
        for _ in 0..<2 { _ = rule.exited(runTime: .zero) }
        #expect(rule.exited(runTime: .zero) == .search(first: true))
        #expect(rule.signalled(0, at: clock.now) == .passOn)
        #expect(rule.phase == .counting)
        #expect(rule.exited(runTime: .zero) == .search(first: false), "a later search of the same run is quiet")
        #expect(rule.signalled(0, at: clock.now) == .passOn)
        #expect(rule.exited(runTime: Self.reset) == .passOn)
        for _ in 0..<2 { _ = rule.exited(runTime: .zero) }
        #expect(rule.exited(runTime: .zero) == .search(first: true), "a new run of quick exits")
    }

    @Test func aLeftoverFoundIsEndedWithSigkillOneStopTimeoutLater() {
        let clock = FakeClock()
        let rule = Self.terminating(clock)
        #expect(rule.phase == .terminating(killAt: clock.now + .seconds(3)))
        #expect(rule.deadline == clock.now + .seconds(3))
    }

    @Test func whenTheLastLeftoverExitsTheExitIsReleasedAndTheCountStartsAgain() {
        let clock = FakeClock()
        var rule = Self.terminating(clock, count: 2)
        #expect(rule.leftoverExited(remaining: 1) == .none)
        #expect(rule.deadline == clock.now + .seconds(3))
        #expect(rule.leftoverExited(remaining: 0) == .release)
        #expect(rule.phase == .counting)
        #expect(rule.streak == 0)
        #expect(rule.deadline == nil)
        #expect(rule.exited(runTime: .zero) == .passOn)
    }

    @Test func theStopTimeoutSendsSigkillThenTheKillGraceGivesUp() {
        var clock = FakeClock()
        var rule = Self.terminating(clock)
        clock.advance(.milliseconds(2999))
        #expect(rule.deadlinePassed(at: clock.now) == .none)
        clock.advance(.milliseconds(1))
        #expect(rule.deadlinePassed(at: clock.now) == .kill)
        #expect(rule.phase == .killing(giveUpAt: clock.now + .seconds(1)))
        clock.advance(.milliseconds(999))
        #expect(rule.deadlinePassed(at: clock.now) == .none)
        clock.advance(.milliseconds(1))
        #expect(rule.deadlinePassed(at: clock.now) == .giveUp)
        #expect(rule.phase == .counting)
        #expect(rule.streak == 0)
    }

    @Test func aKilledLeftoverThatExitsReleasesTheExit() {
        var clock = FakeClock()
        var rule = Self.terminating(clock)
        clock.advance(.seconds(3))
        #expect(rule.deadlinePassed(at: clock.now) == .kill)
        #expect(rule.leftoverExited(remaining: 0) == .release)
        #expect(rule.deadline == nil)
    }

    @Test func eventsThatCannotMatterInAPhaseDoNothing() {
        let clock = FakeClock()
        var counting = Self.table()
        #expect(counting.leftoverExited(remaining: 0) == .none)
        #expect(counting.deadlinePassed(at: clock.now) == .none)
        #expect(counting.streak == 0)
        var ending = Self.terminating(clock)
        #expect(ending.signalled(1, at: clock.now) == .none)
        #expect(ending.exited(runTime: .zero) == .passOn)
        #expect(ending.phase == .terminating(killAt: clock.now + .seconds(3)))
    }
}

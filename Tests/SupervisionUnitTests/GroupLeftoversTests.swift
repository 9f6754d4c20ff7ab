import Testing
import TestSupport
import Supervision

/// Every phase × event cell of the player's group leftovers, on the fake clock.
@Suite struct GroupLeftoversTests {
    static func table() -> GroupLeftovers { GroupLeftovers(stopTimeout: .seconds(3), killGrace: .seconds(1)) }

    /// A table whose player exited leaving members, at `clock.now`.
    static func terminating(_ clock: FakeClock) -> GroupLeftovers {
        var leftovers = table()
        #expect(leftovers.playerExited(membersRemain: true, at: clock.now) == .watch)
        return leftovers
    }

    @Test func anEmptyGroupHandsTheExitOnAtOnce() {
        var leftovers = Self.table()
        let clock = FakeClock()
        #expect(leftovers.playerExited(membersRemain: false, at: clock.now) == .reportExit)
        #expect(leftovers.phase == .idle)
        #expect(leftovers.deadline == nil)
    }

    @Test func membersLeftAreWatchedWithSigkillOneStopTimeoutLater() {
        let clock = FakeClock()
        let leftovers = Self.terminating(clock)
        #expect(leftovers.phase == .terminating(killAt: clock.now + .seconds(3)))
        #expect(leftovers.deadline == clock.now + .seconds(3))
    }

    @Test func whenTheyExitTheExitIsHandedOn() {
        let clock = FakeClock()
        var leftovers = Self.terminating(clock)
        #expect(leftovers.emptied() == .reportExit)
        #expect(leftovers.phase == .idle)
        #expect(leftovers.deadline == nil)
    }

    @Test func theStopTimeoutSendsSigkillThenTheKillGraceGivesUp() {
        var clock = FakeClock()
        var leftovers = Self.terminating(clock)
        clock.advance(.milliseconds(2999))
        #expect(leftovers.deadlinePassed(at: clock.now) == .none)
        clock.advance(.milliseconds(1))
        #expect(leftovers.deadlinePassed(at: clock.now) == .kill)
        #expect(leftovers.phase == .killing(giveUpAt: clock.now + .seconds(1)))
        clock.advance(.milliseconds(999))
        #expect(leftovers.deadlinePassed(at: clock.now) == .none)
        clock.advance(.milliseconds(1))
        #expect(leftovers.deadlinePassed(at: clock.now) == .giveUp)
        #expect(leftovers.phase == .idle)
    }

    @Test func killedMembersThatExitHandTheExitOn() {
        var clock = FakeClock()
        var leftovers = Self.terminating(clock)
        clock.advance(.seconds(3))
        #expect(leftovers.deadlinePassed(at: clock.now) == .kill)
        #expect(leftovers.emptied() == .reportExit)
        #expect(leftovers.deadline == nil)
    }

    @Test func aKillRequestedWhileTerminatingSkipsTheRestOfTheTimeout() {
        var clock = FakeClock()
        var leftovers = Self.terminating(clock)
        clock.advance(.seconds(1))
        #expect(leftovers.killRequested(at: clock.now) == .kill)
        #expect(leftovers.phase == .killing(giveUpAt: clock.now + .seconds(1)))
        #expect(leftovers.killRequested(at: clock.now) == .none)  // Already killing.
    }

    @Test func idleIgnoresEverythingButAnExit() {
        var leftovers = Self.table()
        let clock = FakeClock()
        #expect(leftovers.emptied() == .none)
        #expect(leftovers.deadlinePassed(at: clock.now) == .none)
        #expect(leftovers.killRequested(at: clock.now) == .none)
        #expect(leftovers.phase == .idle)
    }

    @Test func anotherExitWhileLeftoversLiveIsIgnored() {
        let clock = FakeClock()
        var leftovers = Self.terminating(clock)
        #expect(leftovers.playerExited(membersRemain: false, at: clock.now) == .none)
        #expect(leftovers.phase == .terminating(killAt: clock.now + .seconds(3)))
    }
}

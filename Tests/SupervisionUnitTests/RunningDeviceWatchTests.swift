import Testing
import TestSupport
import Supervision

/// Every event × state cell of the running device watch, on the fake clock.
@Suite struct RunningDeviceWatchTests {
    static let window: Duration = .seconds(6)
    static let aplay = RunningDeviceWatch.Holder(pid: 812, name: "aplay", kind: .intruder)
    static let leftover = RunningDeviceWatch.Holder(pid: 900, name: "squeezelite", kind: .leftover)

    static func watching() -> RunningDeviceWatch {
        var watch = RunningDeviceWatch(leftoverWindow: window)
        watch.playerStarted()
        return watch
    }

    @Test func beforeAPlayerRunsHoldersAreNotReported() {
        var watch = RunningDeviceWatch(leftoverWindow: Self.window)
        let clock = FakeClock()
        #expect(watch.holdersSeen([Self.aplay, Self.leftover], at: clock.now).isEmpty)
        #expect(watch.deadline == nil)
        #expect(watch.deadlinePassed(at: clock.now + .seconds(60)).isEmpty)
    }

    @Test func anIntruderIsLoggedAndShownThenNeverEnded() {
        var watch = Self.watching()
        var clock = FakeClock()
        #expect(watch.holdersSeen([Self.aplay], at: clock.now) == [.log(Self.aplay), .show(Self.aplay)])
        #expect(watch.deadline == nil)
        clock.advance(.seconds(3600))
        #expect(watch.deadlinePassed(at: clock.now).isEmpty)
        #expect(watch.holdersSeen([Self.aplay], at: clock.now).isEmpty, "seen again: nothing new")
    }

    @Test func aHolderThatLetsGoIsClearedAndLoggedOnlyOnceIfItComesBack() {
        var watch = Self.watching()
        var clock = FakeClock()
        _ = watch.holdersSeen([Self.aplay], at: clock.now)
        clock.advance(.seconds(1))
        #expect(watch.holdersSeen([], at: clock.now) == [.show(nil)])
        #expect(watch.shown == nil)
        clock.advance(.seconds(1))
        #expect(watch.holdersSeen([Self.aplay], at: clock.now) == [.show(Self.aplay)])
    }

    @Test func theFirstHolderIsShownAndAnotherTakesItsPlaceWhenItGoes() {
        var watch = Self.watching()
        let clock = FakeClock()
        let other = RunningDeviceWatch.Holder(pid: 813, name: "cvlc", kind: .intruder)
        #expect(watch.holdersSeen([Self.aplay, other], at: clock.now) == [.log(Self.aplay), .log(other), .show(Self.aplay)])
        #expect(watch.holdersSeen([other], at: clock.now) == [.show(other)])
    }

    @Test func aLeftoverIsEndedWhenItHasHeldTheDeviceForTheWindow() {
        var watch = Self.watching()
        var clock = FakeClock()
        let first = clock.now
        #expect(watch.holdersSeen([Self.leftover], at: clock.now) == [.log(Self.leftover), .show(Self.leftover)])
        #expect(watch.deadline == first + Self.window)
        // Another open or close in between keeps its since.
        clock.advance(.seconds(2))
        #expect(watch.holdersSeen([Self.leftover], at: clock.now).isEmpty)
        #expect(watch.deadline == first + Self.window)
        #expect(watch.deadlinePassed(at: first + (Self.window - .milliseconds(1))).isEmpty)
        #expect(watch.deadlinePassed(at: first + Self.window) == [.endLeftovers([900])])
        #expect(watch.deadline == nil, "handed over once")
        #expect(watch.deadlinePassed(at: first + Self.window * 2).isEmpty)
    }

    @Test func aLeftoverThatLetsGoWithinTheWindowIsNotEnded() {
        var watch = Self.watching()
        var clock = FakeClock()
        _ = watch.holdersSeen([Self.leftover], at: clock.now)
        clock.advance(.seconds(5))
        #expect(watch.holdersSeen([], at: clock.now) == [.show(nil)])
        #expect(watch.deadline == nil)
        // Back again: its window starts afresh.
        clock.advance(.seconds(1))
        #expect(watch.holdersSeen([Self.leftover], at: clock.now) == [.show(Self.leftover)])
        #expect(watch.deadline == clock.now + Self.window)
    }

    @Test func aLeftoverStillHoldingAfterItWasEndedIsNotHandedOverTwiceUntilItLetsGo() {
        var watch = Self.watching()
        var clock = FakeClock()
        _ = watch.holdersSeen([Self.leftover], at: clock.now)
        clock.advance(Self.window)
        #expect(watch.deadlinePassed(at: clock.now) == [.endLeftovers([900])])
        clock.advance(.seconds(1))
        #expect(watch.holdersSeen([Self.leftover, Self.aplay], at: clock.now) == [.log(Self.aplay)])
        #expect(watch.holdersSeen([], at: clock.now) == [.show(nil)])
    }

    @Test func aScanAfterTheWindowEndsTheLeftoverAtOnce() {
        var watch = Self.watching()
        var clock = FakeClock()
        _ = watch.holdersSeen([Self.leftover], at: clock.now)
        clock.advance(Self.window + .seconds(1))
        #expect(watch.holdersSeen([Self.leftover], at: clock.now) == [.endLeftovers([900])])
    }

    @Test func thePlayersExitClearsWhatIsShownAndStopsTheWatch() {
        var watch = Self.watching()
        let clock = FakeClock()
        _ = watch.holdersSeen([Self.leftover], at: clock.now)
        #expect(watch.playerExited() == [.show(nil)])
        #expect(!watch.watching)
        #expect(watch.deadline == nil)
        #expect(watch.deadlinePassed(at: clock.now + Self.window).isEmpty)
        #expect(watch.playerExited().isEmpty, "nothing shown: nothing to clear")
    }

    @Test func aNewPlayerLogsAHolderOfTheLastRunAgain() {
        var watch = Self.watching()
        let clock = FakeClock()
        _ = watch.holdersSeen([Self.aplay], at: clock.now)
        _ = watch.playerExited()
        watch.playerStarted()
        #expect(watch.holdersSeen([Self.aplay], at: clock.now) == [.log(Self.aplay), .show(Self.aplay)])
    }

    @Test func theWindowIsTheTimeTheGateTakesToItsFirstStaleSearch() {
        // Defaults: 20 probes at once-failing, 50 ms growing to 4 s.
        let timing = GateTiming()
        var schedule = GateSchedule(timing: timing)
        var clock = FakeClock()
        let first = clock.now
        for probe in 1...timing.staleAfter {
            var actions = SupervisionActions()
            let delay = schedule.failed(ProbeFailure(stage: .open, errno: 16), at: clock.now, &actions)
            if probe == timing.staleAfter {
                #expect(actions.contains(.reapStalePlayers))
                break
            }
            #expect(!actions.contains(.reapStalePlayers))
            clock.advance(delay)
        }
        #expect(timing.staleSearchWait == clock.now - first)
        #expect(timing.staleSearchWait > .seconds(4) && timing.staleSearchWait < .seconds(10))
        #expect(GateTiming(probeRetry: .milliseconds(10), probeInterval: .milliseconds(20), staleAfter: 3,
                           holderGrace: .zero).staleSearchWait == .milliseconds(20), "three probes, two waits")
        #expect(GateTiming(staleAfter: 1).staleSearchWait == .zero)
    }
}

extension RunningDeviceWatchTests {
    @Test func aLeftoverTheRuleCouldNotEndYetIsHandedOverAgainAfterTheWait() {
        var watch = Self.watching()
        var clock = FakeClock()
        _ = watch.holdersSeen([Self.leftover], at: clock.now)
        clock.advance(Self.window)
        #expect(watch.deadlinePassed(at: clock.now) == [.endLeftovers([900])])
        watch.notEnded([900], retryAfter: .seconds(2), at: clock.now)
        #expect(watch.deadline == clock.now + .seconds(2))
        #expect(watch.deadlinePassed(at: clock.now + .seconds(1)).isEmpty)
        #expect(watch.deadlinePassed(at: clock.now + .seconds(2)) == [.endLeftovers([900])])
    }
}

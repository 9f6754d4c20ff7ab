import Testing
import TestSupport
import Supervision

/// The watchdog's pings on the fake clock.
@Suite struct WatchdogScheduleTests {
    @Test func theFirstPingIsOneIntervalAfterTheStart() {
        var clock = FakeClock()
        var watchdog = WatchdogSchedule(interval: .seconds(5), startingAt: clock.now)
        #expect(watchdog.deadline == clock.now + .seconds(5))
        clock.advance(.milliseconds(4999))
        #expect(watchdog.deadlinePassed(at: clock.now) == false)
        clock.advance(.milliseconds(1))
        #expect(watchdog.deadlinePassed(at: clock.now) == true)
        #expect(watchdog.deadline == clock.now + .seconds(5))
    }

    @Test func aLateWakeupKeepsTheCadence() {
        var clock = FakeClock()
        let start = clock.now
        var watchdog = WatchdogSchedule(interval: .seconds(5), startingAt: start)
        clock.advance(.milliseconds(5200))
        #expect(watchdog.deadlinePassed(at: clock.now) == true)
        #expect(watchdog.deadline == start + .seconds(10))
    }

    @Test func aMachineThatSleptThroughPingsSendsOneNotABurst() {
        var clock = FakeClock()
        var watchdog = WatchdogSchedule(interval: .seconds(5), startingAt: clock.now)
        clock.advance(.seconds(60))
        #expect(watchdog.deadlinePassed(at: clock.now) == true)
        #expect(watchdog.deadline == clock.now + .seconds(5))
        #expect(watchdog.deadlinePassed(at: clock.now) == false)
    }
}

import Glibc
import Testing
import TestSupport
import Supervision

/// When alsa-lib's configuration is read again, on the fake clock.
@Suite struct ConfigurationRereadTests {
    @Test func aGoodConfigurationIsNeverReadAgain() {
        var reread = ConfigurationReread()
        let clock = FakeClock()
        #expect(reread.beforeProbe(at: clock.now) == false)
    }

    @Test(arguments: [ProbeFailure(stage: .open, errno: EBUSY), ProbeFailure(stage: .hwParams, errno: EINVAL),
                      ProbeFailure(stage: .timeout, errno: ETIMEDOUT)])
    func aBusyDeviceOrALaterStageKeepsTheCache(failure: ProbeFailure) {
        var reread = ConfigurationReread()
        let clock = FakeClock()
        reread.probeFailed(failure)
        #expect(reread.beforeProbe(at: clock.now) == false)
    }

    @Test func anOpenFailingOtherwiseRereadsBeforeTheNextProbeThenAtMostEveryTwoSeconds() {
        var reread = ConfigurationReread()
        var clock = FakeClock()
        reread.probeFailed(ProbeFailure(stage: .open, errno: ENOENT))
        #expect(reread.beforeProbe(at: clock.now) == true)
        #expect(reread.beforeProbe(at: clock.now) == false)  // Read: no longer suspect.
        reread.probeFailed(ProbeFailure(stage: .open, errno: ENOENT))
        clock.advance(.milliseconds(1999))
        #expect(reread.beforeProbe(at: clock.now) == false)  // Too soon: the cache is reused.
        #expect(reread.suspect)
        clock.advance(.milliseconds(1))
        #expect(reread.beforeProbe(at: clock.now) == true)
    }

    @Test func aProbeThatSucceedsClearsTheSuspicion() {
        var reread = ConfigurationReread()
        var clock = FakeClock()
        reread.probeFailed(ProbeFailure(stage: .open, errno: ENOENT))
        reread.probeSucceeded()
        clock.advance(.seconds(5))
        #expect(reread.beforeProbe(at: clock.now) == false)
    }
}

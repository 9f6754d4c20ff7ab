@testable import Presentation
@testable import Reactor
import Supervision
import Testing
import Glibc

/// The holder report's sentence when no process has a sound device open: it
/// follows how the probe failed, so an undefined device reads as a
/// configuration problem and not as a busy one.
@Suite struct HolderReportTests {
    @Test func aBusyOpenIsTheDriverOrAnotherUser() {
        let line = GateDiagnosis.unheld(device: "lb0c", soundDirectory: "/dev/snd", route: nil, failure: ProbeFailure(stage: .open, errno: EBUSY))
        #expect(line == "no process holds /dev/snd/*: lb0c is busy inside the driver or held by another user")
    }

    @Test func anUndefinedDeviceIsAConfigurationProblem() {
        let line = GateDiagnosis.unheld(device: "lb0c", soundDirectory: "/dev/snd", route: nil, failure: ProbeFailure(stage: .open, errno: ENOENT))
        #expect(line == "no process holds /dev/snd/*: lb0c is not defined in the ALSA configuration, or names a card that is not there (open: ENOENT (No such file or directory))")
    }

    @Test func anyOtherFailureIsNamed() {
        let line = GateDiagnosis.unheld(device: "lb3c", soundDirectory: "/dev/snd", route: nil, failure: ProbeFailure(stage: .hwParams, errno: EINVAL))
        #expect(line == "no process holds /dev/snd/*: lb3c fails unheld (hw_params: EINVAL (Invalid argument)): a configuration or driver problem, or another user's process")
    }

    @Test func aDeviceThatNeverPlaysIsBusyInsideTheDriver() {
        let line = GateDiagnosis.unheld(device: "lb0c", soundDirectory: "/dev/snd", route: nil, failure: ProbeFailure(stage: .timeout, errno: ETIMEDOUT))
        #expect(line.hasSuffix("lb0c is busy inside the driver or held by another user"))
    }
}

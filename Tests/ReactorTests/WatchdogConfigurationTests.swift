import Testing
@testable import Reactor

@Suite struct WatchdogConfigurationTests {
    @Test func halfThePeriod() {
        #expect(WatchdogConfiguration.parse(usec: "30000000", watchdogPID: nil, pid: 42) == .seconds(15))
        #expect(WatchdogConfiguration.parse(usec: "1000", watchdogPID: nil, pid: 42) == .microseconds(500))
    }

    @Test func oddMicrosecondsKeepTheHalf() {
        #expect(WatchdogConfiguration.parse(usec: "3", watchdogPID: nil, pid: 42) == .nanoseconds(1500))
        #expect(WatchdogConfiguration.parse(usec: "1", watchdogPID: nil, pid: 42) == .nanoseconds(500))
    }

    @Test func largestFiniteValueDoesNotOverflow() {
        let usec = UInt64.max - 1
        let expected = Duration.microseconds(Int64(usec / 2))
        #expect(WatchdogConfiguration.parse(usec: String(usec), watchdogPID: nil, pid: 42) == expected)
    }

    @Test(arguments: [nil, "", "0", "-5", "+5", " 5", "5 ", "5s", "0x10", "1.5",
                      "18446744073709551615", "18446744073709551616", "99999999999999999999999"])
    func invalidPeriodsMeanNoWatchdog(usec: String?) {
        #expect(WatchdogConfiguration.parse(usec: usec, watchdogPID: nil, pid: 42) == nil)
    }

    @Test func pidMustBeOursWhenPresent() {
        #expect(WatchdogConfiguration.parse(usec: "2000000", watchdogPID: "42", pid: 42) == .seconds(1))
        #expect(WatchdogConfiguration.parse(usec: "2000000", watchdogPID: "43", pid: 42) == nil)
    }

    @Test(arguments: ["", "0", "-42", "abc", "42 ", "4294967338"])
    func malformedPIDMeansNoWatchdog(pid: String) {
        #expect(WatchdogConfiguration.parse(usec: "2000000", watchdogPID: pid, pid: 42) == nil)
    }
}

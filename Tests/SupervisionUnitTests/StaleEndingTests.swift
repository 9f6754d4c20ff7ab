import Testing
import TestSupport
import Supervision

/// Every phase × event cell of the stale-player rounds, on the fake clock.
@Suite struct StaleEndingTests {
    static let timeout: Duration = .seconds(3)

    /// A first search that signalled `targets` stale players at `now`.
    static func round(of targets: Int, at now: MonotonicInstant) -> StaleEnding {
        var ending = StaleEnding(stopTimeout: timeout)
        _ = ending.searchRequested(at: now)
        ending.signalled(targets, at: now)
        return ending
    }

    @Test func theFirstSearchSearchesAndAnnouncesTheRule() {
        var ending = StaleEnding(stopTimeout: Self.timeout)
        let clock = FakeClock()
        #expect(ending.searchRequested(at: clock.now) == .search(announce: true))
        #expect(ending.deadline == nil)
        #expect(ending.searchRequested(at: clock.now) == .search(announce: false))
    }

    @Test func aSearchThatFindsNothingStartsNoRound() {
        var clock = FakeClock()
        var ending = Self.round(of: 0, at: clock.now)
        #expect(ending.deadline == nil)
        #expect(ending.pending == 0)
        clock.advance(.milliseconds(1))
        #expect(ending.searchRequested(at: clock.now) == .search(announce: false))
    }

    @Test func aRoundArmsSigkillOneStopTimeoutLater() {
        let clock = FakeClock()
        let ending = Self.round(of: 2, at: clock.now)
        #expect(ending.pending == 2)
        #expect(ending.deadline == clock.now + Self.timeout)
    }

    @Test func aSearchDuringARoundWaitsForIt() {
        var clock = FakeClock()
        var ending = Self.round(of: 1, at: clock.now)
        clock.advance(.seconds(10))  // Even past the rate limit: the round is not over.
        #expect(ending.searchRequested(at: clock.now) == .stillEnding(announce: false))
    }

    @Test func theLastTargetToExitEndsTheRoundAndItsDeadline() {
        let clock = FakeClock()
        var ending = Self.round(of: 2, at: clock.now)
        #expect(ending.targetExited() == false)
        #expect(ending.deadline != nil)
        #expect(ending.targetExited() == true)
        #expect(ending.deadline == nil)
        #expect(ending.targetExited() == false)  // Nothing pending: ignored.
    }

    @Test func anotherRoundWaitsOneStopTimeoutFromTheLastOnesStart() {
        var clock = FakeClock()
        var ending = Self.round(of: 1, at: clock.now)
        clock.advance(.seconds(1))
        _ = ending.targetExited()
        #expect(ending.searchRequested(at: clock.now) == .tooSoon(since: .seconds(1), announce: false))
        clock.advance(.milliseconds(1999))
        #expect(ending.searchRequested(at: clock.now) == .tooSoon(since: .milliseconds(2999), announce: false))
        clock.advance(.milliseconds(1))
        #expect(ending.searchRequested(at: clock.now) == .search(announce: false))
    }

    @Test func theDeadlineKillsWhatIsLeftOnceAndEndsTheRound() {
        var clock = FakeClock()
        var ending = Self.round(of: 2, at: clock.now)
        _ = ending.targetExited()
        clock.advance(.milliseconds(2999))
        #expect(ending.deadlinePassed(at: clock.now) == false)  // Not yet.
        clock.advance(.milliseconds(1))
        #expect(ending.deadlinePassed(at: clock.now) == true)
        #expect(ending.deadline == nil)
        #expect(ending.pending == 0)
        #expect(ending.deadlinePassed(at: clock.now) == false)  // Once.
        #expect(ending.targetExited() == false)  // The killed target's exit after the round: ignored.
        #expect(ending.searchRequested(at: clock.now) == .search(announce: false))
    }

    @Test func withNoRoundTheDeadlineIsIgnored() {
        var ending = StaleEnding(stopTimeout: Self.timeout)
        let clock = FakeClock()
        #expect(ending.deadlinePassed(at: clock.now) == false)
    }
}

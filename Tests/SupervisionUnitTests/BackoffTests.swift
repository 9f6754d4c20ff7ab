import Testing
@testable import Supervision

@Suite struct BackoffTests {
    @Test func defaultSequence() {
        let policy = BackoffPolicy.standard
        #expect((1...7).map { policy.delay(afterFailure: $0) } == [2, 4, 8, 16, 30, 30, 30].map { Duration.seconds($0) })
        #expect(policy.delay(afterFailure: 0) == .zero)
    }

    @Test func hugeFailureCountsDoNotOverflow() {
        #expect(BackoffPolicy.standard.delay(afterFailure: 1_000_000) == .seconds(30))
    }

    @Test func capAndHealth() {
        let policy = BackoffPolicy(initial: .milliseconds(50), maximum: .milliseconds(200), reset: .seconds(1))
        #expect(!policy.isCapped(afterFailure: 2))
        #expect(policy.isCapped(afterFailure: 3))
        #expect(policy.isHealthy(runTime: .seconds(1)))
        #expect(!policy.isHealthy(runTime: .milliseconds(999)))
    }
}

import Testing
@testable import Presentation
@testable import Supervision

@Suite struct DurationParserTests {
    @Test(arguments: [
        ("150ms", Duration.milliseconds(150)), ("2s", .seconds(2)), ("1.5s", .milliseconds(1500)),
        ("1m", .seconds(60)), ("2", .seconds(2)), ("0", .zero), ("0.25", .milliseconds(250)),
        ("1m30s", .seconds(90)), ("1h", .seconds(3600)), ("250us", .microseconds(250)),
        ("0.000000001", .nanoseconds(1)), ("24h", .seconds(86_400)), ("1.9999999999s", .nanoseconds(1_999_999_999)),
    ])
    func valid(text: String, expected: Duration) throws {
        #expect(try DurationParser.parse(text) == expected)
    }

    @Test(arguments: [
        ("", DurationParser.Failure.empty), ("-1s", .negative), ("banana", .malformed), ("s", .malformed),
        ("1.5.2s", .malformed), ("2 s", .malformed), (" 2s", .malformed), ("+2s", .malformed),
        ("2d", .unknownUnit("d")), ("5sx", .unknownUnit("sx")), ("24h1ns", .tooLarge),
        ("99999999999999999999999s", .tooLarge), ("18446744073709551615h", .tooLarge), ("1e3", .unknownUnit("e")),
    ])
    func invalid(text: String, failure: DurationParser.Failure) {
        #expect(throws: failure) { try DurationParser.parse(text) }
    }

    @Test func humanReadable() {
        #expect(Duration.milliseconds(250).humanReadable == "250 ms")
        #expect(Duration.seconds(2).humanReadable == "2 s")
        #expect(Duration.milliseconds(1500).humanReadable == "1.5 s")
        #expect(Duration.seconds(252).humanReadable == "4m12s")
        #expect(Duration.seconds(7500).humanReadable == "2h05m")
    }
}

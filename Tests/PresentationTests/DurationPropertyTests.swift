#if canImport(Glibc)
import Glibc
#endif
import Testing
import Presentation

/// Property tests of DurationParser over pseudo-random values: every case is
/// reproducible from the generator's start state printed in a failure (set
/// DURATION_PROPERTY_STATE=<n> to run from another one).
@Suite struct DurationPropertyTests {
    static let cases = 4000
    static let day: UInt64 = 24 * 3600 * 1_000_000_000

    static let startState: UInt64 = {
        if let text = getenv("DURATION_PROPERTY_STATE"), let value = UInt64(String(cString: text)) { return value }
        return 0x6d6f_6e69_746f_7264
    }()

    /// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast and good enough here.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        init(state: UInt64) { self.state = state }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A generator per test, so one test's draws do not shift another's.
    static func generator(_ salt: UInt64) -> SplitMix64 { SplitMix64(state: startState ^ (salt &* 0x9E37_79B9_7F4A_7C15)) }

    /// Random nanoseconds in 0...24h, biased towards the round values people write.
    static func randomNanoseconds(_ random: inout SplitMix64) -> UInt64 {
        let ns = UInt64.random(in: 0...day, using: &random)
        switch random.next() % 4 {
        case 0: return ns
        case 1: return ns / 1_000_000 * 1_000_000
        case 2: return ns / 1_000_000_000 * 1_000_000_000
        default: return ns / 60_000_000_000 * 60_000_000_000
        }
    }

    static func parsed(_ text: String) -> UInt64? {
        guard let value = try? DurationParser.parse(text) else { return nil }
        let (seconds, attoseconds) = value.components
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }

    static func nineDigits(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: 9 - digits.count) + digits
    }

    @Test func renderingsRoundTrip() {
        var random = Self.generator(1)
        for index in 0..<Self.cases {
            let ns = Self.randomNanoseconds(&random)
            let seconds = ns / 1_000_000_000
            let fraction = ns % 1_000_000_000
            var texts = ["\(ns)ns", "\(seconds).\(Self.nineDigits(fraction))s", "\(seconds).\(Self.nineDigits(fraction))"]
            // Trailing zeros of the fraction dropped: 1.5s, 0.25s.
            var short = Self.nineDigits(fraction)
            while short.count > 1 && short.hasSuffix("0") { short.removeLast() }
            texts.append("\(seconds).\(short)s")
            if ns % 1_000 == 0 { texts.append("\(ns / 1_000)us") }
            if ns % 1_000_000 == 0 { texts.append("\(ns / 1_000_000)ms") }
            if fraction == 0 {
                texts += ["\(seconds)s", "\(seconds)", "\(seconds)sec"]
                texts.append("\(seconds / 60)m\(seconds % 60)s")
                texts.append("\(seconds / 3600)h\((seconds % 3600) / 60)m\(seconds % 60)s")
                texts.append("\(seconds / 3600)h\((seconds % 3600) / 60)min\(seconds % 60)sec")
            }
            // Compound with a fractional last part: 4m12.5s.
            texts.append("\(seconds / 60)m\(seconds % 60).\(Self.nineDigits(fraction))s")
            for text in texts {
                #expect(Self.parsed(text) == ns, "case \(index), state \(Self.startState): '\(text)' should be \(ns) ns")
            }
        }
    }

    @Test func fractionsOfMinutesAndHoursAreExact() {
        var random = Self.generator(2)
        for index in 0..<Self.cases {
            // 0.DDDDDDDDDDDDDDDDDD of a unit, 1 to 18 digits: floor(D * scale / 10^digits).
            let digits = Int.random(in: 1...18, using: &random)
            var power: UInt64 = 1
            for _ in 0..<digits { power *= 10 }
            let numerator = UInt64.random(in: 0..<power, using: &random)
            var text = String(numerator)
            text = "0." + String(repeating: "0", count: digits - text.count) + text
            for (unit, scale) in [("h", UInt64(3_600_000_000_000)), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000)] {
                let expected = UInt64(UInt128(numerator) * UInt128(scale) / UInt128(power))
                #expect(Self.parsed(text + unit) == expected, "case \(index), state \(Self.startState): '\(text)\(unit)'")
            }
        }
    }

    @Test func sumsOfPartsAdd() {
        var random = Self.generator(3)
        let units: [(String, UInt64)] = [("h", 3_600_000_000_000), ("m", 60_000_000_000), ("min", 60_000_000_000),
                                         ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000), ("ns", 1)]
        for index in 0..<Self.cases {
            var text = ""
            var total: UInt64 = 0
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let (unit, scale) = units.randomElement(using: &random)!
                let count = UInt64.random(in: 0...(Self.day / scale / 4), using: &random)
                text += "\(count)\(unit)"
                total += count * scale
            }
            #expect(Self.parsed(text) == total, "case \(index), state \(Self.startState): '\(text)'")
        }
    }

    @Test func largerUnitsAndLargerNumbersNeverParseSmaller() {
        var random = Self.generator(4)
        let units = ["ns", "us", "ms", "s", "m", "h"]
        for index in 0..<Self.cases {
            let a = UInt64.random(in: 0...25, using: &random)
            let b = a + UInt64.random(in: 0...25, using: &random)
            let fraction = Self.nineDigits(UInt64.random(in: 0..<1_000_000_000, using: &random))
            var previous: UInt64 = 0
            for unit in units {
                guard let small = Self.parsed("\(a).\(fraction)\(unit)"), let large = Self.parsed("\(b).\(fraction)\(unit)") else {
                    // Only past 24h may a value be refused.
                    #expect(unit == "h" && b >= 24, "case \(index), state \(Self.startState): \(a)/\(b).\(fraction)\(unit) refused")
                    continue
                }
                #expect(small <= large, "case \(index), state \(Self.startState): \(a) vs \(b) \(unit)")
                #expect(small >= previous, "case \(index), state \(Self.startState): \(a).\(fraction)\(unit) below the smaller unit")
                previous = small
            }
        }
    }

    @Test func anythingOverADayIsRefused() {
        var random = Self.generator(5)
        for index in 0..<Self.cases {
            let ns = UInt64.random(in: (Self.day + 1)...UInt64.max, using: &random)
            let seconds = UInt64.random(in: (Self.day / 1_000_000_000 + 1)...(UInt64.max / 1_000_000_000), using: &random)
            let hours = UInt64.random(in: 25...UInt64.max, using: &random)
            let texts = ["\(ns)ns", "\(seconds)s", "\(seconds)", "\(hours)h", "24h\(UInt64.random(in: 1...Self.day, using: &random))ns",
                         "23h\(UInt64.random(in: 3_600_000_000_001...UInt64.max / 2, using: &random))ns",
                         String(ns) + String(UInt64.random(in: 0...UInt64.max, using: &random)) + "ns"]
            for text in texts {
                #expect(throws: DurationParser.Failure.tooLarge, "case \(index), state \(Self.startState): '\(text)'") {
                    try DurationParser.parse(text)
                }
            }
        }
        #expect(Self.parsed("24h") == Self.day)
        #expect(Self.parsed("86400") == Self.day)
        #expect(Self.parsed("1439m60s") == Self.day)
    }

    @Test func aBareNumberIsSecondsOnlyAsTheWholeText() {
        var random = Self.generator(6)
        for index in 0..<Self.cases / 4 {
            let hours = UInt64.random(in: 0...23, using: &random)
            let rest = UInt64.random(in: 0...59, using: &random)
            #expect(Self.parsed("\(hours)h\(rest)") == nil, "case \(index): '\(hours)h\(rest)'")
            #expect(Self.parsed("\(hours)m\(rest).5") == nil, "case \(index): '\(hours)m\(rest).5'")
            #expect(Self.parsed("\(rest)") == rest * 1_000_000_000, "case \(index): '\(rest)'")
        }
        #expect(throws: DurationParser.Failure.malformed) { try DurationParser.parse("1h30") }
    }
}

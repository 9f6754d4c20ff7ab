import Supervision

/// Parses the command line's durations: `150ms`, `2s`, `1.5s`, `1m`, `1m30s`,
/// `2h`, `250us`; a bare number is seconds, but only as the whole text
/// (`1h30` is refused rather than read as 1h0m30s). Exact: no floating
/// point; each part is truncated to whole nanoseconds, and fraction digits
/// past the 18th are ignored.
public enum DurationParser {
    public enum Failure: Error, Equatable, Sendable {
        case empty
        case negative
        case malformed
        case unknownUnit(String)
        case tooLarge
    }

    /// Durations above this are refused: nothing monitord waits for is
    /// sensibly longer, and it keeps every sum far from overflow.
    public static let maximum: Duration = .seconds(24 * 3600)

    public static func parse(_ text: String) throws(Failure) -> Duration {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw .empty }
        if bytes[0] == UInt8(ascii: "-") { throw .negative }
        var index = 0
        var totalNanoseconds: UInt64 = 0
        while index < bytes.count {
            let partStart = index
            let (whole, fraction, fractionDigits, next) = try number(bytes, from: index)
            index = next
            let unitStart = index
            while index < bytes.count, isLetter(bytes[index]) { index += 1 }
            let unit = String(decoding: bytes[unitStart..<index], as: UTF8.self)
            if unit.isEmpty && (partStart != 0 || index < bytes.count) { throw .malformed }
            let scale = try nanoseconds(per: unit)
            let part = try scaled(whole: whole, fraction: fraction, digits: fractionDigits, by: scale)
            let (sum, overflow) = totalNanoseconds.addingReportingOverflow(part)
            if overflow { throw .tooLarge }
            totalNanoseconds = sum
        }
        let duration = Duration.nanoseconds(Int64(min(totalNanoseconds, UInt64(Int64.max))))
        if totalNanoseconds > UInt64(Int64.max) || duration > maximum { throw .tooLarge }
        return duration
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
    }

    /// Reads `123` or `1.25` starting at `start`.
    private static func number(
        _ bytes: [UInt8], from start: Int
    ) throws(Failure) -> (whole: UInt64, fraction: UInt64, fractionDigits: Int, next: Int) {
        var index = start
        var whole: UInt64 = 0
        var sawDigit = false
        while index < bytes.count, isDigit(bytes[index]) {
            let (times10, o1) = whole.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times10.addingReportingOverflow(UInt64(bytes[index] - 48))
            if o1 || o2 { throw .tooLarge }
            whole = plus
            sawDigit = true
            index += 1
        }
        var fraction: UInt64 = 0
        var digits = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, isDigit(bytes[index]) {
                // 18 digits resolve a nanosecond of every unit (an hour is
                // 3.6e12 ns, so 9 digits would drop up to 360 ns of `0.0000000001h`).
                if digits < maximumFractionDigits {
                    fraction = fraction * 10 + UInt64(bytes[index] - 48)
                    digits += 1
                }
                sawDigit = true
                index += 1
            }
        }
        if !sawDigit { throw .malformed }
        return (whole, fraction, digits, index)
    }

    private static func nanoseconds(per unit: String) throws(Failure) -> UInt64 {
        switch unit {
        case "", "s", "sec": return 1_000_000_000
        case "ms": return 1_000_000
        case "us": return 1_000
        case "ns": return 1
        case "m", "min": return 60_000_000_000
        case "h": return 3_600_000_000_000
        default: throw .unknownUnit(unit)
        }
    }

    private static let maximumFractionDigits = 18

    private static func scaled(whole: UInt64, fraction: UInt64, digits: Int, by scale: UInt64) throws(Failure) -> UInt64 {
        let (wholePart, overflow) = whole.multipliedReportingOverflow(by: scale)
        if overflow { throw .tooLarge }
        var divisor: UInt64 = 1
        for _ in 0..<digits { divisor *= 10 }
        // fraction < divisor <= 1e18 and scale <= 3.6e12: the product needs
        // 128 bits; the quotient is below scale, so it fits.
        let fractionPart = divisor.dividingFullWidth(fraction.multipliedFullWidth(by: scale)).quotient
        let (sum, overflow2) = wholePart.addingReportingOverflow(fractionPart)
        if overflow2 { throw .tooLarge }
        return sum
    }
}

extension Duration {
    /// The duration as the command line writes it, in its largest exact unit
    /// (`2s`, `50ms`, `1m`); `DurationParser.parse` reads it back unchanged.
    public var commandLineText: String {
        let nanoseconds = saturatingNanoseconds
        if nanoseconds % 1_000_000 != 0 {
            return nanoseconds % 1000 == 0 ? "\(nanoseconds / 1000)us" : "\(nanoseconds)ns"
        }
        let milliseconds = nanoseconds / 1_000_000
        if milliseconds % 1000 != 0 { return "\(milliseconds)ms" }
        let seconds = milliseconds / 1000
        if seconds != 0 && seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds != 0 && seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}

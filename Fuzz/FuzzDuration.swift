// libFuzzer target for DurationParser.parse. The input bytes are one
// duration text (decoded as UTF-8 with repair, as CommandLine.arguments does).
//
// Invariants:
// - parse never traps;
// - it agrees with an independent reference model below (accept/reject and
//   the exact value), which computes in UInt128 instead of the parser's
//   overflow-checked UInt64 arithmetic;
// - an accepted value is within 0...24h, and its canonical renderings
//   (`Nns`, `S.FFFFFFFFFs`, `Nms`/`Nus`/`Ns`/`Nm`/`Nh` when exact) parse back
//   to the same value;
// - the failure kind is .empty exactly for an empty text and .negative for a
//   text starting with '-'.
import Presentation
import Supervision
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDuration(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    let text = String(decoding: input, as: UTF8.self)
    let expected = ReferenceDuration.parse(Array(text.utf8))
    do {
        let value = try DurationParser.parse(text)
        require(inDayRange(value), "'\(escaped(text))' parsed to \(value), outside 0...24h")
        let ns = nanoseconds(value)
        require(expected == ns, "'\(escaped(text))' parsed to \(ns) ns, reference says \(expected.map { "\($0) ns" } ?? "reject")")
        for rendering in renderings(ns) {
            let again = try? DurationParser.parse(rendering)
            require(again == value, "'\(escaped(text))' = \(ns) ns, but its rendering '\(rendering)' parses to \(again.map { "\($0)" } ?? "an error")")
        }
    } catch {
        require(expected == nil, "'\(escaped(text))' rejected (\(error)), reference says \(expected!) ns")
        require((error == .empty) == text.isEmpty, "'\(escaped(text))': .empty iff the text is empty, got \(error)")
        require((error == .negative) == (input.first == UInt8(ascii: "-")), "'\(escaped(text))': .negative iff it starts with '-', got \(error)")
    }
    return 0
}

/// Every way monitord's documentation lets one write `ns` exactly.
func renderings(_ ns: UInt64) -> [String] {
    let seconds = ns / 1_000_000_000
    let fraction = ns % 1_000_000_000
    var digits = String(fraction)
    digits = String(repeating: "0", count: 9 - digits.count) + digits
    var out = ["\(ns)ns", "\(seconds).\(digits)s", "\(seconds).\(digits)"]
    if fraction == 0 { out += ["\(seconds)s", "\(seconds)", "\(seconds).0s"] }
    if ns % 1_000 == 0 { out.append("\(ns / 1_000)us") }
    if ns % 1_000_000 == 0 { out.append("\(ns / 1_000_000)ms") }
    if ns % 60_000_000_000 == 0 { out.append("\(ns / 60_000_000_000)m") }
    if ns % 3_600_000_000_000 == 0 { out.append("\(ns / 3_600_000_000_000)h") }
    if seconds >= 60 {
        let rest = ns - (seconds / 60) * 60_000_000_000
        out.append("\(seconds / 60)m\(rest)ns")
        if fraction == 0 { out.append("\(seconds / 3600)h\((seconds % 3600) / 60)m\(seconds % 60)s") }
    }
    return out
}

/// The documented grammar, written independently of the parser:
/// one or more `NUMBER UNIT` parts (NUMBER = digits with an optional
/// `.digits`, at least one digit in all), or a lone bare NUMBER meaning
/// seconds. Units ns, us, ms, s, sec, m, min, h. Each part is truncated to
/// whole nanoseconds; fraction digits past the 18th are ignored. The sum must
/// be at most 24h.
enum ReferenceDuration {
    static let fractionDigitLimit = 18
    static let limit: UInt128 = 24 * 3600 * 1_000_000_000

    static func parse(_ bytes: [UInt8]) -> UInt64? {
        if bytes.isEmpty || bytes[0] == UInt8(ascii: "-") { return nil }
        var index = 0
        var total: UInt128 = 0
        var parts = 0
        while index < bytes.count {
            var whole: UInt128 = 0
            var fraction: UInt128 = 0
            var fractionDigits = 0
            var sawDigit = false
            while index < bytes.count, let digit = digit(bytes[index]) {
                // Saturate: anything this large is rejected as too long anyway.
                whole = min(whole * 10 + digit, 1_000_000_000_000_000_000_000)
                sawDigit = true
                index += 1
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                while index < bytes.count, let digit = digit(bytes[index]) {
                    if fractionDigits < fractionDigitLimit {
                        fraction = fraction * 10 + digit
                        fractionDigits += 1
                    }
                    sawDigit = true
                    index += 1
                }
            }
            guard sawDigit else { return nil }
            let unitStart = index
            while index < bytes.count, isLetter(bytes[index]) { index += 1 }
            let unit = String(decoding: bytes[unitStart..<index], as: UTF8.self)
            parts += 1
            let scale: UInt128
            switch unit {
            case "": scale = 1_000_000_000
            case "ns": scale = 1
            case "us": scale = 1_000
            case "ms": scale = 1_000_000
            case "s", "sec": scale = 1_000_000_000
            case "m", "min": scale = 60_000_000_000
            case "h": scale = 3_600_000_000_000
            default: return nil
            }
            // A bare number is seconds only as the whole text: `1h30` is refused.
            if unit.isEmpty && (parts > 1 || index < bytes.count) { return nil }
            var divisor: UInt128 = 1
            for _ in 0..<fractionDigits { divisor *= 10 }
            total += whole * scale + (fraction * scale) / divisor
            if total > limit { return nil }
        }
        return UInt64(total)
    }

    private static func digit(_ byte: UInt8) -> UInt128? {
        byte >= 48 && byte <= 57 ? UInt128(byte - 48) : nil
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
    }
}

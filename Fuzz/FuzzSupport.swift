// Shared by the fuzz targets: compiled into each one together with the
// sources they exercise (see Fuzz/build). Glibc only, no Foundation.
#if canImport(Glibc)
import Glibc
#endif

/// Fails the run the way libFuzzer notices: print what broke, then abort.
func require(_ condition: @autoclosure () -> Bool, _ what: @autoclosure () -> String) {
    if condition() { return }
    let text = "fuzz invariant violated: \(what())\n"
    var copy = text
    copy.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    abort()
}

/// The fuzz input as a byte array (libFuzzer passes nil for an empty input).
func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Shows a string with every non-printable scalar escaped, for failure reports.
func escaped(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        if scalar.value >= 0x20 && scalar.value < 0x7f { out.unicodeScalars.append(scalar) } else { out += "\\u{\(String(scalar.value, radix: 16))}" }
    }
    return out
}

let oneDay: Duration = .seconds(24 * 3600)

func inDayRange(_ value: Duration) -> Bool { value >= .zero && value <= oneDay }

/// Whole nanoseconds of a duration known to be in 0...24h.
func nanoseconds(_ value: Duration) -> UInt64 {
    let (seconds, attoseconds) = value.components
    return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
}

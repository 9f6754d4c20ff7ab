import Presentation
import Supervision
import CLibc

/// `--status-file PATH`: the supervisor's current state as one line, for a
/// web UI or a shell script that cannot (or should not) ask systemd.
///
/// Format: `key=value` pairs separated by single spaces, ending in one `\n`:
///
///     state=running pid=812 command=squeezelite restart=on-failure restarts=3 failures=0 last_exit=exit:1 summary=running%20squeezelite%20(pid%20812),%203%20restarts
///
/// (StatusReport decides the keys; its last one, `summary`, is the sentence
/// systemd's STATUS= shows, encoded like any other value.)
///
/// Keys and values are percent-encoded (RFC 3986 style, uppercase hex) for
/// exactly these bytes: `%`, space, `=`, `"`, `\`, and the ASCII control
/// characters 0x00-0x1F and 0x7F. Everything else, UTF-8 included, is
/// written as is. So a line never contains a space inside a pair, and
/// `tr ' ' '\n'` followed by splitting at the first `=` and decoding `%XX`
/// reads it back. An empty value is written as `key=`.
///
/// Each write replaces the file atomically (write `PATH.tmp`, then rename),
/// so a reader sees either the previous complete line or the new one, never
/// a mix or an empty file. There is no fsync: the file is volatile state,
/// meant for a tmpfs such as `/run` (`RuntimeDirectory=`), and syncing on
/// every state change would only wear the Pi's flash.
///
/// On exit, prefer `markStopped` over `remove`: a reader can then tell
/// "stopped cleanly" from "never started" and still see the last exit.
/// A SIGKILLed monitord leaves its last line behind; readers that care can
/// check that the pid it names (if the writer records one) is alive.
public struct StatusFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The temporary file the next line is written to before the rename.
    /// Same directory as `path`, so the rename never crosses a filesystem.
    public var temporaryPath: String { path + ".tmp" }

    /// Replaces the file's contents with `render(fields)`.
    ///
    /// - Returns: false when any step fails (the old file, if any, is then
    ///   untouched). A status file is informational: the caller logs and
    ///   goes on.
    @discardableResult
    public func write(_ fields: [(String, String)]) -> Bool {
        let line = Self.render(fields)
        let flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW
        var opened: Int32
        repeat { opened = clibc_open(temporaryPath, flags, 0o644) } while opened < 0 && Errno.current == EINTR
        guard opened >= 0 else { return false }
        let file = Descriptor(adopting: opened)
        // The mode given to open() is filtered by the umask; readers (a web
        // UI under another user) rely on 0644 whatever the service's UMask=.
        var written = fchmod(file.rawValue, 0o644) == 0 && writeAll(file.rawValue, line)
        // A failed close can mean the line never reached the file. close() is
        // never retried: after EINTR the descriptor is already gone.
        do { try file.close() } catch { if error.errno != EINTR { written = false } }
        guard written else {
            _ = unlink(temporaryPath)
            return false
        }
        if rename(temporaryPath, path) != 0 {
            _ = unlink(temporaryPath)
            return false
        }
        return true
    }

    /// Writes `state=stopped` followed by `fields` (any `state` among them is
    /// dropped), for the last line before monitord exits.
    @discardableResult
    public func markStopped(_ fields: [(String, String)] = []) -> Bool {
        write([("state", "stopped")] + fields.filter { $0.0 != "state" })
    }

    /// Deletes the file (and a leftover temporary file). True when nothing is
    /// left, including when there was nothing to delete.
    @discardableResult
    public func remove() -> Bool {
        _ = unlink(temporaryPath)
        return unlink(path) == 0 || Errno.current == ENOENT
    }

    private func writeAll(_ descriptor: Int32, _ line: String) -> Bool {
        var line = line
        return line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let result = CLibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if result < 0 {
                    if Errno.current == EINTR { continue }
                    return false
                }
                offset += result
            }
            return true
        }
    }

    // MARK: Format

    /// One line: encoded pairs joined by spaces, and a trailing newline.
    public static func render(_ fields: [(String, String)]) -> String {
        var line = ""
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { line += " " }
            line += encode(key)
            line += "="
            line += encode(value)
        }
        line += "\n"
        return line
    }

    /// The pairs of one rendered line, in order; nil when the line is not in
    /// the format (a pair without `=`, a bad `%XX`, an empty key, a doubled
    /// or stray space). A trailing newline is allowed, not required.
    public static func parse(_ line: String) -> [(String, String)]? {
        var text = Substring(line)
        if text.hasSuffix("\n") { text = text.dropLast() }
        if text.isEmpty { return [] }
        var fields: [(String, String)] = []
        for pair in text.split(separator: " ", omittingEmptySubsequences: false) {
            guard let equals = pair.firstIndex(of: "="),
                  let key = decode(pair[..<equals]), !key.isEmpty,
                  let value = decode(pair[pair.index(after: equals)...])
            else { return nil }
            fields.append((key, value))
        }
        return fields
    }

    private static func needsEncoding(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "%")
            || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func encode(_ text: String) -> String {
        guard text.utf8.contains(where: needsEncoding) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 8)
        for byte in text.utf8 {
            if needsEncoding(byte) {
                bytes += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Percent-decoding; nil on a malformed escape, a raw byte that should
    /// have been encoded, or a result that is not valid UTF-8.
    private static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else if needsEncoding(byte) {
                return nil
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}

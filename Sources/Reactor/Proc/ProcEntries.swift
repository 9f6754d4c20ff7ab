import Supervision
import CLibc

/// Small readers for /proc (or a fake tree shaped like it), libc only.
/// Every reader tolerates the process vanishing under it: a scan of /proc
/// races with processes exiting, and that is not an error.
enum ProcEntries {
    /// Numeric entries of `procRoot`: the process ids.
    static func processIDs(procRoot: String) -> [Int32] {
        guard case .success(let names) = directoryEntries(procRoot) else { return [] }
        return names.compactMap { name in
            guard let first = name.utf8.first, first >= UInt8(ascii: "1"), first <= UInt8(ascii: "9") else { return nil }
            return Int32(name)
        }.sorted()
    }

    /// The entry names of a directory without "." and "..", or the errno of opendir.
    static func directoryEntries(_ path: String) -> Result<[String], DirectoryError> {
        guard let directory = opendir(path) else { return .failure(DirectoryError(errno: Errno.current)) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names)
    }

    struct DirectoryError: Error, Equatable {
        var errno: Int32
    }

    /// The target of a symbolic link, or nil (gone, not a link, EACCES).
    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink(path, &buffer, buffer.count - 1)
        guard length >= 0 else { return nil }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A whole (small) file, or nil if it cannot be opened or read.
    static func contents(_ path: String) -> [UInt8]? {
        let opened = clibc_open(path, O_RDONLY | O_CLOEXEC, 0)
        guard opened >= 0 else { return nil }
        let file = Descriptor(adopting: opened)  // Closed on return.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(file.rawValue, &chunk, chunk.count)
            if count < 0 {
                if Errno.current == EINTR { continue }
                return nil
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// argv from /proc/PID/cmdline (NUL-separated); empty for kernel
    /// threads and zombies, nil if the process is gone.
    static func commandLine(pid: Int32, procRoot: String) -> [String]? {
        guard let bytes = contents("\(procRoot)/\(pid)/cmdline") else { return nil }
        var arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        // The buffer ends with a NUL, which leaves one empty trailing field.
        if arguments.last == "" { arguments.removeLast() }
        return arguments
    }

    /// The fields of /proc/PID/status that stale-player matching needs.
    struct Status: Equatable {
        var realUID: UInt32?
        var state: Character?
        var parentPID: Int32?
    }

    static func status(pid: Int32, procRoot: String) -> Status? {
        guard let bytes = contents("\(procRoot)/\(pid)/status") else { return nil }
        var status = Status()
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let text = String(decoding: line, as: UTF8.self)
            if text.hasPrefix("Uid:") {
                // "Uid:\treal\teffective\tsaved\tfs": the first field is the real uid.
                let fields = text.dropFirst(4).split(whereSeparator: { $0 == "\t" || $0 == " " })
                status.realUID = fields.first.flatMap { UInt32($0) }
            } else if text.hasPrefix("PPid:") {
                status.parentPID = Int32(text.dropFirst(5).trimmingTabsAndSpaces)
            } else if text.hasPrefix("State:") {
                status.state = text.dropFirst(6).first(where: { $0 != "\t" && $0 != " " })
            }
        }
        return status
    }
}

private extension Substring {
    var trimmingTabsAndSpaces: Substring {
        let isBlank = { (c: Character) in c == "\t" || c == " " }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return self[first...last]
    }
}

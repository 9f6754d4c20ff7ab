/// System V shared memory segments and semaphore sets, as the kernel lists
/// them in /proc/sysvipc/shm and /proc/sysvipc/sem. alsa-lib's dmix, dsnoop
/// and dshare keep their shared state there under the PCM's ipc_key; a
/// player that exits without closing its PCM leaves both behind.
///
/// Read only: monitord never removes an IPC object (the next open of the PCM
/// does, when nobody is attached).
public struct SharedMemorySegment: Equatable, Sendable {
    public var key: Int32
    public var id: Int32
    /// The creator (`cpid`) and the last process to attach or detach (`lpid`).
    public var creatorPID: Int32
    public var lastPID: Int32
    /// Processes attached now (`nattch`).
    public var attachments: Int
    public var ownerUID: UInt32

    public init(key: Int32, id: Int32, creatorPID: Int32, lastPID: Int32, attachments: Int, ownerUID: UInt32) {
        self.key = key
        self.id = id
        self.creatorPID = creatorPID
        self.lastPID = lastPID
        self.attachments = attachments
        self.ownerUID = ownerUID
    }
}

public struct SemaphoreSet: Equatable, Sendable {
    public var key: Int32
    public var id: Int32
    public var count: Int
    public var ownerUID: UInt32

    public init(key: Int32, id: Int32, count: Int, ownerUID: UInt32) {
        self.key = key
        self.id = id
        self.count = count
        self.ownerUID = ownerUID
    }
}

/// The parsers: pure, fuzzed (Fuzz/FuzzSysVIPC.swift). Columns are found by
/// the header's names, not by position, so a kernel that adds a column (rss
/// and swap came in 2.6) still parses; a row that is short or not numeric is
/// skipped, never trusted.
public enum SysVIPC {
    public static func sharedMemory(_ text: [UInt8]) -> [SharedMemorySegment] {
        rows(text, columns: ["key", "shmid", "cpid", "lpid", "nattch", "uid"]).compactMap { fields in
            guard let key = Int32(fields[0]), let id = Int32(fields[1]), let creator = Int32(fields[2]),
                  let last = Int32(fields[3]), let attachments = Int(fields[4]), attachments >= 0,
                  let uid = UInt32(fields[5]) else { return nil }
            return SharedMemorySegment(key: key, id: id, creatorPID: creator, lastPID: last, attachments: attachments, ownerUID: uid)
        }
    }

    public static func semaphores(_ text: [UInt8]) -> [SemaphoreSet] {
        rows(text, columns: ["key", "semid", "nsems", "uid"]).compactMap { fields in
            guard let key = Int32(fields[0]), let id = Int32(fields[1]), let count = Int(fields[2]), count >= 0,
                  let uid = UInt32(fields[3]) else { return nil }
            return SemaphoreSet(key: key, id: id, count: count, ownerUID: uid)
        }
    }

    /// The named columns of each row after the header, in the order asked;
    /// nothing when the header lacks one of them.
    static func rows(_ text: [UInt8], columns: [String]) -> [[String]] {
        var lines = text.split(separator: UInt8(ascii: "\n")).makeIterator()
        guard let header = lines.next() else { return [] }
        let names = words(header)
        var positions: [Int] = []
        for column in columns {
            guard let position = names.firstIndex(of: column) else { return [] }
            positions.append(position)
        }
        var result: [[String]] = []
        while let line = lines.next() {
            let fields = words(line)
            guard positions.allSatisfy({ $0 < fields.count }) else { continue }
            result.append(positions.map { fields[$0] })
        }
        return result
    }

    private static func words(_ line: ArraySlice<UInt8>) -> [String] {
        line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// `key` as ipcs shows it (0x00003404).
    public static func hex(_ key: Int32) -> String {
        let digits = String(UInt32(bitPattern: key), radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}

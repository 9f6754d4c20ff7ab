// libFuzzer target for the /proc/sysvipc parsers (SysVIPC.sharedMemory and
// SysVIPC.semaphores). The input bytes are one file's text, parsed as both.
//
// Invariants:
// - neither parser traps;
// - both are deterministic;
// - every row returned has a non-negative attachment/semaphore count;
// - no more rows than lines after the header;
// - every key returned is the value of a decimal word of the input
//   (nothing is invented; "-09" is -9, as Int32 reads it).
import Presentation
import Supervision
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSysVIPC(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = bytes(data, size)
    let lines = input.split(separator: UInt8(ascii: "\n")).count
    let segments = SysVIPC.sharedMemory(input)
    let semaphores = SysVIPC.semaphores(input)
    require(segments == SysVIPC.sharedMemory(input), "shm parse not deterministic")
    require(semaphores == SysVIPC.semaphores(input), "sem parse not deterministic")
    require(segments.count <= max(lines - 1, 0), "\(segments.count) segments from \(lines) lines")
    require(semaphores.count <= max(lines - 1, 0), "\(semaphores.count) semaphore sets from \(lines) lines")
    let words = Set(input.split(whereSeparator: { $0 == 32 || $0 == 9 || $0 == 10 })
        .compactMap { Int32(String(decoding: $0, as: UTF8.self)) })
    for segment in segments {
        require(segment.attachments >= 0, "negative nattch")
        require(words.contains(segment.key), "key \(segment.key) is no word of the input")
        require(SysVIPC.hex(segment.key).utf8.count == 10, "hex key \(SysVIPC.hex(segment.key))")
    }
    for set in semaphores {
        require(set.count >= 0, "negative nsems")
        require(words.contains(set.key), "key \(set.key) is no word of the input")
    }
    return 0
}

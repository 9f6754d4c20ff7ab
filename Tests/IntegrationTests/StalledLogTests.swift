import Foundation
import Glibc
import Testing
import TestSupport

/// A log reader that stops reading must never stop supervision: lines that do
/// not fit are dropped and counted, and monitord keeps restarting and stopping.
@Suite struct StalledLogTests {
    /// F_GETPIPE_SZ (Linux, <fcntl.h> with _GNU_SOURCE; not in Swift's Glibc).
    static let getPipeSize: Int32 = 1032

    @Test func aStderrPipeNobodyReadsNeverFreezesMonitord() throws {
        let scratch = Scratch()
        let fifo = scratch.file("stderr.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        // The reader is open (so writes do not fail with EPIPE) but never reads.
        let reader = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        #expect(reader >= 0)
        defer { close(reader) }
        let status = scratch.file("status")
        // -v and a zero backoff: a few lines per millisecond fill the 64 kB pipe at once.
        let monitord = try Monitord(["-v", "--status-file", status, "--backoff-initial", "0", "--backoff-max", "0",
                                     "sh", "-c", "exit 1"], scratch: scratch, logName: "stderr.fifo")
        func restarts() -> Int {
            let line = (try? String(contentsOfFile: status, encoding: .utf8)) ?? ""
            return line.split(separator: " ").first { $0.hasPrefix("restarts=") }.flatMap { Int($0.dropFirst(9)) } ?? 0
        }
        // Progress is measured from the moment the pipe is full, not as a rate
        // (a sanitizer build restarts several times slower).
        let capacity = fcntl(reader, Self.getPipeSize)
        #expect(capacity > 0)
        func unread() -> Int32 {
            var count: Int32 = 0
            return ioctl(reader, UInt(FIONREAD), &count) == 0 ? count : -1
        }
        // Full: less than a page left (a pipe holds whole pages; a line that
        // does not fit in the last one's room needs a page of its own).
        #expect(eventually(timeout: .seconds(60)) { unread() > capacity - 4096 }, "the pipe never filled: \(unread()) of \(capacity)")
        let before = restarts()
        #expect(eventually(timeout: .seconds(60)) { restarts() >= before + 50 }, "still supervising with a stalled log")
        #expect(unread() > capacity - 4096, "nobody read the pipe meanwhile")
        // "Full" leaves up to a page of room, which some 50 short lines can
        // still fit in: without a dropped line there is nothing to report.
        // A drop, proven: the pipe did not grow across a logged start. With
        // unread sampled before reading count r and after reading r+2, the
        // line of start r+1 falls between the samples: it is logged after the
        // status file says r+1 and before it says r+2. Nobody reads, so the
        // pipe cannot shrink meanwhile.
        var mark = (unread: unread(), restarts: restarts())
        #expect(eventually(timeout: .seconds(60)) {
            let now = restarts()
            guard now >= mark.restarts + 2 else { return false }
            let grown = unread()
            if grown == mark.unread { return true }
            mark = (grown, restarts())
            return false
        }, "no line was ever dropped: unread \(unread()) of \(capacity)")

        // Drain the pipe: the next line that fits says how many were lost.
        // Only the newest bytes are searched (monitord keeps writing, and
        // searching all of it again each time is slow in a sanitizer build).
        var buffer = [UInt8](repeating: 0, count: 65536)
        var window = ""
        #expect(eventually(timeout: .seconds(60)) {
            while case let n = read(reader, &buffer, buffer.count), n > 0 {
                window = String(window.suffix(200)) + String(decoding: buffer[0..<n], as: UTF8.self)
                if window.contains("log lines were dropped: stderr was not being read") { return true }
            }
            return false
        }, "no report of the dropped lines once the pipe was read; restarts \(restarts()) (\(before) when full); last read: \(window.suffix(400))")

        let clock = ContinuousClock()
        let start = clock.now
        monitord.signal(SIGTERM)
        #expect(monitord.wait(timeout: .seconds(10)) == .exited(0))
        #expect(clock.now - start < .seconds(5))
    }
}

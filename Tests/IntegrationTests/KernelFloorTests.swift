import Foundation
import Glibc
import Testing
import TestSupport

/// The system calls monitord makes that are newer than Linux 5.4 (AmpliPi's
/// image kernel; docs/deploying.md "Kernel floor"), each with its fallback, taken here on
/// a new kernel by making the call fail the way an old kernel does.
@Suite struct KernelFloorTests {
    /// close_range(2) came in 5.9 and its CLOSE_RANGE_CLOEXEC flag in 5.11:
    /// before 5.9 the call is ENOSYS, and the child closes every descriptor
    /// above stderr one by one before exec; on 5.9 and 5.10 the flag is
    /// EINVAL, and the child closes them with one plain close_range. Either
    /// way it inherits none of monitord's (here a /dev/null that monitord
    /// itself inherited without close-on-exec, at descriptor 9).
    @Test(arguments: ["ENOSYS", "EINVAL"])
    func withoutCloseRangeTheChildStillInheritsNoDescriptor(error: String) throws {
        let scratch = Scratch()
        let report = scratch.file("child-descriptors")
        let listing = "ls /proc/$$/fd > '\(report).tmp' && mv '\(report).tmp' '\(report)'; exec sleep 1000"
        let monitord = try Launched([Products.denySyscall, "close_range", error, "--inherit-fd", "9", "--",
                                     Products.monitord, "--", "/bin/sh", "-c", listing], scratch: scratch)
        #expect(monitord.waitForLog("denied close_range: \(error)"), "\(monitord.log)")
        #expect(eventually { FileManager.default.fileExists(atPath: report) }, "\(monitord.log)")
        // The condition under test holds: monitord has descriptor 9 open.
        #expect(FileManager.default.fileExists(atPath: "/proc/\(monitord.pid)/fd/9"))
        // The shell keeps descriptors of its own at 10 and above (dash); below
        // that the child must have stdin, stdout and stderr only.
        let descriptors = scratch.lines("child-descriptors").compactMap { Int($0) }
        #expect(descriptors.filter { $0 < 10 }.sorted() == [0, 1, 2], "the child's descriptors: \(descriptors)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }
}

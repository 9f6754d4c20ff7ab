import Foundation
import Glibc
import Testing
import TestSupport

/// The suite leaves nothing behind: what `TemporaryFiles` makes is under
/// TMPDIR, named `monitord-*`, and gone once the test process exits — also
/// when it exits because a test failed.
@Suite struct TemporaryFilesTests {
    @Test func directoriesAreMadeUnderTMPDIRAndRemovedWhenAsked() throws {
        let path = TemporaryFiles.makeDirectory("files-test")
        #expect(path.hasPrefix(TemporaryFiles.root + "/monitord-files-test."))
        #expect(TemporaryFiles.registered.contains(path))
        try "x".write(toFile: path + "/inside", atomically: false, encoding: .utf8)
        TemporaryFiles.remove(path)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!TemporaryFiles.registered.contains(path))
    }

    /// A test process that fails (exits non-zero after making directories it
    /// never removed itself) still removes them on its way out.
    @Test func aFailingTestProcessRemovesWhatItMadeOnExit() async throws {
        let label = "failing-\(getpid())"
        // Exit code 3 only after the directory and a file in it were made.
        await #expect(processExitsWith: .exitCode(3)) {
            // In a child of this process: `getppid()` is the label above.
            let path = TemporaryFiles.makeDirectory("failing-\(getppid())")
            guard (try? FileManager.default.createDirectory(atPath: path + "/snd", withIntermediateDirectories: true)) != nil,
                  FileManager.default.createFile(atPath: path + "/snd/state", contents: Data("ok\n".utf8)) else { exit(1) }
            exit(3)
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: TemporaryFiles.root)
            .filter { $0.hasPrefix("monitord-\(label).") }
        #expect(left.isEmpty, "left behind in \(TemporaryFiles.root): \(left)")
    }
}

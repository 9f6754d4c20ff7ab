import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Reactor

@Suite struct StatusFileTests {
    /// Compares field lists (tuples are not Equatable).
    private func same(_ a: [(String, String)]?, _ b: [(String, String)]) -> Bool {
        guard let a else { return false }
        return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    private func temporaryDirectory() throws -> String {
        TemporaryFiles.makeDirectory("status")
    }

    @Test func rendersOneLineOfPairs() {
        let line = StatusFile.render([("state", "running"), ("child_pid", "812"), ("restarts", "3")])
        #expect(line == "state=running child_pid=812 restarts=3\n")
    }

    @Test func awkwardValuesRoundTrip() {
        let fields = [
            ("state", "waiting"),
            ("reason", "EBUSY (Device or resource busy), held by pid 790 squeezelite"),
            ("empty", ""),
            ("equals", "a=b==c"),
            ("percent", "100% %41 %"),
            ("quotes", "\"double\" 'single' back\\slash"),
            ("newlines", "one\ntwo\r\nthree\t\u{0}\u{7F}"),
            ("unicode", "Küche – Zone 3 🎵"),
            ("key with space=and equals", "v"),
        ]
        let line = StatusFile.render(fields)
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().split(separator: " ").count == fields.count)
        #expect(same(StatusFile.parse(line), fields))
        #expect(line.contains("reason=EBUSY%20(Device%20or%20resource%20busy),%20held"))
    }

    @Test func emptyFieldListIsAnEmptyLine() {
        #expect(StatusFile.render([]) == "\n")
        #expect(same(StatusFile.parse("\n"), []))
    }

    @Test(arguments: ["state", "=value", "a=1  b=2", "a=1 ", "a=%4", "a=%zz", "a=b c", "a=\"x\"", "a=x\ny=1"])
    func malformedLinesAreRejected(line: String) {
        #expect(StatusFile.parse(line) == nil)
    }

    @Test func writeReplacesTheFileWith0644() throws {
        let directory = try temporaryDirectory()
        defer { TemporaryFiles.remove(directory) }
        let file = StatusFile(path: directory + "/status")
        let oldMask = umask(0o077)
        defer { umask(oldMask) }

        #expect(file.write([("state", "starting")]))
        #expect(file.write([("state", "running"), ("child_pid", "812")]))
        #expect(try String(contentsOfFile: file.path, encoding: .utf8) == "state=running child_pid=812\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o644)
        #expect(!FileManager.default.fileExists(atPath: file.temporaryPath))
    }

    @Test func markStoppedAndRemove() throws {
        let directory = try temporaryDirectory()
        defer { TemporaryFiles.remove(directory) }
        let file = StatusFile(path: directory + "/status")

        #expect(file.markStopped([("state", "running"), ("last_exit", "signal 15")]))
        #expect(try String(contentsOfFile: file.path, encoding: .utf8) == "state=stopped last_exit=signal%2015\n")
        #expect(file.remove())
        #expect(!FileManager.default.fileExists(atPath: file.path))
        #expect(file.remove(), "removing an absent file is not a failure")
    }

    @Test func unwritableDirectoryIsAFailureNotACrash() {
        let file = StatusFile(path: "/nonexistent-monitord-dir/status")
        #expect(!file.write([("state", "running")]))
    }

    /// A reader polling the file while the state flips must always see one
    /// complete, parseable line: the old one or the new one.
    @Test func readersNeverSeeAPartialLine() async throws {
        let directory = try temporaryDirectory()
        defer { TemporaryFiles.remove(directory) }
        let file = StatusFile(path: directory + "/status")
        // Lines of very different lengths, so a torn or truncated read shows.
        let short = [("state", "running"), ("child_pid", "812")]
        let long = [("state", "waiting"), ("gate_device", "lb3c"),
                    ("reason", String(repeating: "EBUSY held by pid 790 squeezelite; ", count: 200))]
        #expect(file.write(short))

        let writing = Flag()
        let writer = Task.detached {
            defer { writing.finish() }
            var failures = 0
            for index in 0..<2000 where !file.write(index.isMultiple(of: 2) ? long : short) {
                failures += 1
            }
            return failures
        }
        let reader = Task.detached { () -> (reads: Int, bad: [String]) in
            var reads = 0
            var bad: [String] = []
            while writing.isSet || reads < 100 {
                guard let data = FileManager.default.contents(atPath: file.path) else {
                    bad.append("<missing>")
                    break
                }
                reads += 1
                let text = String(decoding: data, as: UTF8.self)
                let fields = StatusFile.parse(text)
                if !text.hasSuffix("\n") || !(same(fields, short) || same(fields, long)) {
                    bad.append(String(text.prefix(80)))
                    if bad.count > 5 { break }
                }
            }
            return (reads, bad)
        }
        let failures = await writer.value
        let result = await reader.value
        #expect(failures == 0)
        #expect(result.bad.isEmpty, "torn reads: \(result.bad)")
        #expect(result.reads > 0)
    }
}

/// Set until the writer finishes; read by the reader task.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(true)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func finish() { value.store(false, ordering: .releasing) }
}

import Foundation
import Glibc

/// Where the tests' temporary files go, and the promise that none is left
/// behind. Every directory is made under `TMPDIR` (`/tmp` without it) and
/// named `monitord-LABEL.XXXXXX`, and every path made here is removed when
/// the test process exits, whether its tests passed or failed: a test whose
/// owner object removes its directory earlier (`Scratch`) unregisters it, and
/// a directory that must live as long as the process (the in-process ALSA
/// configuration) is simply left to the exit. scripts/test runs the suite
/// with a private TMPDIR and fails if any `monitord-*` is left in it.
public enum TemporaryFiles {
    /// `TMPDIR` without its trailing slash, as the suite and everything it
    /// starts (SwiftPM's `NSTemporaryDirectory`, the shell's `mktemp`) see it.
    public static var root: String {
        let value = ProcessInfo.processInfo.environment["TMPDIR"] ?? ""
        let directory = value.isEmpty ? "/tmp" : value
        return directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    }

    /// A fresh directory `PARENT/monitord-LABEL.XXXXXX` (mode 0700; PARENT is
    /// `root` unless given), removed at exit at the latest.
    public static func makeDirectory(_ label: String, in parent: String? = nil) -> String {
        var template = Array("\(parent ?? root)/monitord-\(label).XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            preconditionFailure("cannot make a temporary directory in \(parent ?? root): \(String(cString: strerror(errno)))")
        }
        let path = String(cString: made)
        register(path)
        return path
    }

    /// Removes `path` (and everything under it) at exit at the latest.
    public static func register(_ path: String) {
        registry.withLock { state in
            if !state.hooked {
                state.hooked = true
                atexit { TemporaryFiles.removeAll() }
            }
            state.paths.insert(path)
        }
    }

    /// Removes `path` now; it is no longer removed at exit.
    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
        _ = registry.withLock { $0.paths.remove(path) }
    }

    /// What is still registered (for the test that checks the removal).
    public static var registered: Set<String> { registry.withLock { $0.paths } }

    static func removeAll() {
        let paths = registry.withLock { state in
            defer { state.paths.removeAll() }
            return state.paths
        }
        for path in paths { try? FileManager.default.removeItem(atPath: path) }
    }

    private struct State {
        var paths: Set<String> = []
        var hooked = false
    }
    /// The tests run in parallel threads. An NSLock (a pthread mutex), not
    /// Synchronization's Mutex: that one locks with futex calls inside an
    /// uninstrumented stdlib, so ThreadSanitizer sees no ordering between
    /// two threads' registrations and reports a race that is not there.
    private static let registry = LockedState()

    private final class LockedState: @unchecked Sendable {
        private let lock = NSLock()
        private var state = State()

        func withLock<Result>(_ body: (inout State) -> Result) -> Result {
            lock.lock()
            defer { lock.unlock() }
            return body(&state)
        }
    }
}

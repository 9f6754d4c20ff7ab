import Glibc
import Testing

/// Tests that need root, or a facility only root has, say so in one form so
/// that a run can count the ones that did not run: scripts/test prints that
/// count, and fails under CI (which runs as root) when it is not zero.
public enum RootOnly {
    /// Starts the skip comment of a root-only test, and the line printed when
    /// a root-only part of a test did not run.
    public static let marker = "root-only:"

    public static var isRoot: Bool { geteuid() == 0 }

    /// For a root-only part of a test that runs without it: prints the marker line.
    public static func partSkipped(_ what: String) {
        print("\(marker) \(what) skipped")
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only when `condition` holds, and otherwise reports it
    /// skipped with a comment that starts with `RootOnly.marker`.
    public static func rootOnly(_ condition: @autoclosure @escaping @Sendable () -> Bool, _ why: String) -> Self {
        .enabled(if: condition(), Comment(rawValue: "\(RootOnly.marker) \(why)"))
    }
}

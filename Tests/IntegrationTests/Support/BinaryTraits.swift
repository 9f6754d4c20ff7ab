import Testing
import TestSupport

/// Conditions on the monitord under test (`Products.monitord`): the suite runs
/// against SwiftPM's build, the Embedded x86_64 build and, under qemu-user,
/// the armv7 release binary (scripts/test-release). A test that cannot hold
/// for one of them says why here, once, and is reported as skipped there.
extension Trait where Self == ConditionTrait {
    /// The test plays through the ALSA test plugin, a shared library that
    /// alsa-lib loads into monitord: a static release binary has no dlopen.
    static var needsTestPlugin: Self {
        .enabled(if: Products.loadsTestPlugin, "needs the ALSA test plugin, which a static monitord cannot load")
    }

    /// The test depends on something qemu-user emulates differently from a
    /// kernel; it runs on every native build.
    static func notEmulated(_ gap: EmulationGap) -> Self {
        .enabled(if: !Products.isEmulated, Comment(rawValue: gap.rawValue))
    }
}

/// Where qemu-user (which runs the armv7 binary in the suite) differs from a
/// real kernel in a way a test can see.
enum EmulationGap: String {
    case vforkIsAFork = "qemu-user runs clone(CLONE_VM | CLONE_VFORK) as a fork: a failed exec's errno, written into shared memory, never reaches monitord"
    case ownThreads = "qemu-user runs threads of its own beside monitord's one"
    case ownDescriptors = "qemu-user and its launcher script need descriptors of their own under a low limit"
    case realTimeSignals = "qemu-user maps real-time signal numbers between host and guest"
}

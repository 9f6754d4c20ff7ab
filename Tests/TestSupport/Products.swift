import Foundation

/// Where SwiftPM put the binaries: next to the running test bundle.
public enum Products {
    public static let directory: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }()

    /// The monitord under test: SwiftPM's build, or the binary named by
    /// `MONITORD_BINARY` (the Embedded release builds, scripts/test-release).
    /// With `MONITORD_EMULATOR` (a qemu-user), a one-line script that runs the
    /// binary under it stands in for the binary.
    public static let monitord: String = {
        let environment = ProcessInfo.processInfo.environment
        guard let binary = environment["MONITORD_BINARY"], !binary.isEmpty else { return directory + "/monitord" }
        guard let emulator = environment["MONITORD_EMULATOR"], !emulator.isEmpty else { return binary }
        let launcher = TemporaryFiles.root + "/monitord-emulated-\(getpid())"
        TemporaryFiles.register(launcher)
        let script = "#!/bin/sh\nexec '\(emulator)' '\(binary)' \"$@\"\n"
        let written = FileManager.default.createFile(atPath: launcher, contents: Data(script.utf8), attributes: [.posixPermissions: 0o755])
        precondition(written, "cannot write \(launcher)")
        return launcher
    }()

    /// False when the monitord under test cannot load the ALSA test plugin
    /// (a static binary: no dlopen), so the tests that need it do not run.
    public static var loadsTestPlugin: Bool {
        ProcessInfo.processInfo.environment["MONITORD_NO_TEST_PLUGIN"] != "1"
    }

    /// True when monitord runs under a qemu-user emulator: its /proc entries
    /// (descriptors, memory, command line) are the emulator's.
    public static var isEmulated: Bool {
        !(ProcessInfo.processInfo.environment["MONITORD_EMULATOR"] ?? "").isEmpty
    }

    public static var pcmHolder: String { directory + "/pcm-holder" }
    public static var denySyscall: String { directory + "/deny-syscall" }
    public static var testPlugin: String { directory + "/libMonitordTestPCM.so" }
}

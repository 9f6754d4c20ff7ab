import Foundation

/// Where SwiftPM put the binaries: next to the running test bundle.
public enum Products {
    public static let directory: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }()

    /// The monitord under test: SwiftPM's build, or the binary named by
    /// `MONITORD_BINARY` (the Embedded release builds: scripts/test-embedded).
    public static var monitord: String {
        if let binary = ProcessInfo.processInfo.environment["MONITORD_BINARY"], !binary.isEmpty { return binary }
        return directory + "/monitord"
    }
    public static var pcmHolder: String { directory + "/pcm-holder" }
    public static var testPlugin: String { directory + "/libMonitordTestPCM.so" }
}

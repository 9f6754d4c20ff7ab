import Foundation

/// Where SwiftPM put the binaries: next to the running test bundle.
public enum Products {
    public static let directory: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }()

    public static var monitord: String { directory + "/monitord" }
    public static var pcmHolder: String { directory + "/pcm-holder" }
    public static var testPlugin: String { directory + "/libMonitordTestPCM.so" }
}

// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "monitord",
    products: [
        .executable(name: "monitord", targets: ["monitord"]),
        .library(name: "Supervision", targets: ["Supervision"]),
        .library(name: "Presentation", targets: ["Presentation"]),
        .library(name: "Reactor", targets: ["Reactor"]),
        // The test rig (Tests/Rig), one name each for target, product and
        // directory. MonitordTestPCM: an alsa-lib ioplug plugin that fakes a
        // sound device, loaded by tests through a private ALSA config
        // (`pcm_type.monitordtest { lib ".../libMonitordTestPCM.so" }`).
        .library(name: "MonitordTestPCM", type: .dynamic, targets: ["MonitordTestPCM"]),
        // pcm-holder: a player stand-in that opens a PCM and holds it.
        .executable(name: "pcm-holder", targets: ["pcm-holder"]),
        // deny-syscall: runs a command with close_range(2) failing, as on a
        // kernel older than 5.11 (seccomp), so the fallback is taken.
        .executable(name: "deny-syscall", targets: ["deny-syscall"]),
    ],
    targets: [
        // The C library as the Swift code imports it, the same module in the
        // full toolchain and in Embedded Swift (which has no Glibc module).
        .systemLibrary(name: "CLibc"),
        .target(
            name: "CKernelShim",
            // 64-bit time_t on 32-bit ARM too: the wall clock it reads must
            // not wrap in 2038 (no effect on 64-bit targets).
            cSettings: [.define("_GNU_SOURCE"), .define("_TIME_BITS", to: "64"), .define("_FILE_OFFSET_BITS", to: "64")]
        ),
        .systemLibrary(
            name: "CALSA",
            pkgConfig: "alsa",
            providers: [.apt(["libasound2-dev"])]
        ),
        // The restart logic: the transition table and the values it works on.
        // No system calls (CLibc for constants and strerror's text only), so
        // nothing can creep into the table that tests cannot drive.
        .target(
            name: "Supervision",
            dependencies: ["CLibc"]
        ),
        // The text monitord reads and writes: the command line and its option
        // table, and the sentences of the log, the status and the gate's
        // diagnosis, with the values they are made from. No system calls
        // either (CLibc for constants and strerror's text only): each
        // formatter is tested on values alone.
        .target(
            name: "Presentation",
            dependencies: ["Supervision", "CLibc"]
        ),
        // Everything that touches the system: the loop, the gate, the kernel
        // wrappers, the logger's writes, systemd, /proc, alsa-lib.
        .target(
            name: "Reactor",
            dependencies: ["Supervision", "Presentation", "CLibc", "CKernelShim", "CALSA"]
        ),
        .executableTarget(
            name: "monitord",
            dependencies: ["Reactor", "Presentation", "Supervision", "CLibc", "CKernelShim"]
        ),
        .target(
            name: "MonitordTestPCM",
            path: "Tests/Rig/MonitordTestPCM",
            cSettings: [.define("_GNU_SOURCE"), .define("PIC")],
            linkerSettings: [.linkedLibrary("asound")]
        ),
        .executableTarget(
            name: "pcm-holder",
            path: "Tests/Rig/pcm-holder",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("asound")]
        ),
        .executableTarget(
            name: "deny-syscall",
            path: "Tests/Rig/deny-syscall",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // Shared by the test targets: where the products are, spawning and
        // reaping real processes, polling, the fake clock. Never linked into monitord.
        .target(
            name: "TestSupport",
            dependencies: ["CKernelShim", "Supervision"],
            path: "Tests/TestSupport"
        ),
        // The table, its scenarios and the backoff, on a fake clock: they
        // depend on the pure target alone.
        .testTarget(
            name: "SupervisionUnitTests",
            dependencies: ["Supervision", "TestSupport"]
        ),
        // The formatters on values alone: no process, file or device.
        .testTarget(
            name: "PresentationTests",
            dependencies: ["Presentation", "Supervision", "TestSupport"]
        ),
        .testTarget(
            name: "ReactorTests",
            dependencies: ["Reactor", "Presentation", "Supervision", "TestSupport"]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["CKernelShim", "Reactor", "Presentation", "TestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

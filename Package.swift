// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "monitord",
    products: [
        .executable(name: "monitord", targets: ["monitord"]),
        .library(name: "Reactor", targets: ["Reactor"]),
        // Test rig only: an alsa-lib ioplug plugin loaded by tests through a
        // private ALSA config (`pcm_type.monitordtest { lib ".../libMonitordTestPCM.so" }`).
        .library(name: "MonitordTestPCM", type: .dynamic, targets: ["ALSATestPlugin"]),
        // Test rig only: a player stand-in that opens a PCM and holds it.
        .executable(name: "pcm-holder", targets: ["PCMHolder"]),
    ],
    targets: [
        .target(
            name: "CEpoll",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        .systemLibrary(
            name: "CALSA",
            pkgConfig: "alsa",
            providers: [.apt(["libasound2-dev"])]
        ),
        .target(
            name: "Reactor",
            dependencies: ["CEpoll", "CALSA"]
        ),
        .executableTarget(
            name: "monitord",
            dependencies: ["Reactor"]
        ),
        .target(
            name: "ALSATestPlugin",
            cSettings: [.define("_GNU_SOURCE"), .define("PIC")],
            linkerSettings: [.linkedLibrary("asound")]
        ),
        .executableTarget(
            name: "PCMHolder",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("asound")]
        ),
        // Shared by both test targets: where the products are, spawning and
        // reaping real processes, polling. Never linked into monitord.
        .target(
            name: "TestSupport",
            dependencies: ["CEpoll"],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "ReactorTests",
            dependencies: ["Reactor", "TestSupport"]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["CEpoll", "TestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

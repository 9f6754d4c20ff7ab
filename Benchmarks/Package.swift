// swift-tools-version:6.1
// Micro-benchmarks for monitord. A package of its own so that
// package-benchmark and its dependencies stay out of the root package's
// graph: `swift build` and `swift test` at the root never build this.
//
//   cd Benchmarks && swift package benchmark      (or ./run-micro)

import Foundation
import PackageDescription

// A path dependency's identity is the last component of its path, so it is
// the name of the folder the repository was cloned into (`main` here,
// something else in a CI clone). Work it out instead of spelling it.
let rootIdentity = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .deletingLastPathComponent()
    .lastPathComponent
    .lowercased()

let package = Package(
    name: "MonitordBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        .package(
            url: "https://github.com/ordo-one/benchmark",
            exact: "1.38.1",
            traits: ["MallocInterposer"]
        ),
    ],
    targets: [
        // The measured operations, shared by the benchmarks and by
        // micro-driver (a plain loop for callgrind and strace).
        .target(
            name: "MicroScenarios",
            dependencies: [
                .product(name: "Reactor", package: rootIdentity),
                // Not called: depending on it makes SwiftPM build
                // libMonitordTestPCM.so next to the executables, where the
                // readiness scenarios point alsa-lib at it.
                .product(name: "MonitordTestPCM", package: rootIdentity),
            ]
        ),
        .executableTarget(
            name: "micro-driver",
            dependencies: ["MicroScenarios"]
        ),
        .executableTarget(
            name: "MonitordBenchmarks",
            dependencies: [
                "MicroScenarios",
                .product(name: "Reactor", package: rootIdentity),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/MonitordBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

import Foundation
import Glibc
import Testing
import Reactor

/// The rig's products are built by `swift test` (they are products of this
/// package); the tests that need them are skipped without them, so their
/// absence is reported here, once, as a failure.
@Suite struct ALSATestProducts {
    @Test func builtNextToTheTests() {
        #expect(ALSATestRig.productsAvailable, "missing \(ALSATestRig.pluginPath) or \(ALSATestRig.holderPath): run `swift build` first")
    }
}

/// The pcm-holder stand-in player itself: the other tests rely on it
/// holding the device exactly as long as it runs.
@Suite(.enabled(if: ALSATestRig.productsAvailable))
struct ALSAHolderTests {
    @Test func holdsTheDeviceUntilSIGTERM() throws {
        let directory = ALSATestRig.makeDirectory("holder-term")
        let device = FixedDevice(directory: directory, name: "lb0c", card: 0)
        let environment = ALSATestRig.childEnvironment(directory: directory)
        let holder = try PlayerProcess.launch(ALSATestRig.holderPath, ["-o", "lb0c"], environment: environment)
        #expect(!FakeDevice.lockIsFree(device.deviceFile))

        // A second opener of the same device gets EBUSY and exits 1.
        let second = Process()
        second.executableURL = URL(fileURLWithPath: ALSATestRig.holderPath)
        second.arguments = ["-o", "lb0c"]
        second.environment = environment
        second.standardError = FileHandle.nullDevice
        try second.run()
        second.waitUntilExit()
        #expect(second.terminationStatus == 1)

        holder.kill(SIGTERM)
        #expect(holder.waitForExit(timeout: 5) == 0)
        #expect(FakeDevice.lockIsFree(device.deviceFile))
    }

    @Test func ignoreTermNeedsSIGKILL() throws {
        let directory = ALSATestRig.makeDirectory("holder-kill")
        let device = FixedDevice(directory: directory, name: "lb0c", card: 0)
        let holder = try PlayerProcess.launch(ALSATestRig.holderPath, ["-o", "lb0c", "--ignore-term"],
                                              environment: ALSATestRig.childEnvironment(directory: directory))
        holder.kill(SIGTERM)
        #expect(holder.waitForExit(timeout: 0.3) == nil, "SIGTERM is ignored")
        #expect(!FakeDevice.lockIsFree(device.deviceFile))
        holder.kill(SIGKILL)
        #expect(holder.waitForExit(timeout: 5) == 128 + SIGKILL)
        #expect(FakeDevice.lockIsFree(device.deviceFile))
    }

    @Test func stateFileIsReadOnEveryOpen() throws {
        let directory = ALSATestRig.makeDirectory("holder-state")
        let device = FixedDevice(directory: directory, name: "lb0c", card: 0)
        let environment = ALSATestRig.childEnvironment(directory: directory)
        try "fail-open EBUSY\n".write(toFile: device.stateFile, atomically: true, encoding: .utf8)
        #expect(throws: RigError.self) {
            _ = try PlayerProcess.launch(ALSATestRig.holderPath, ["-o", "lb0c"], environment: environment)
        }
        try "ok\n".write(toFile: device.stateFile, atomically: true, encoding: .utf8)
        let holder = try PlayerProcess.launch(ALSATestRig.holderPath, ["-o", "lb0c"], environment: environment)
        holder.kill(SIGINT)
        #expect(holder.waitForExit(timeout: 5) == 0)
    }

    @Test func usageErrorWithoutDevice() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ALSATestRig.holderPath)
        process.arguments = ["-n", "x"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
    }
}

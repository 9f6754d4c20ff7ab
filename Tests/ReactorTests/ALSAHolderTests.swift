import Foundation
import Glibc
import Testing
import Reactor
import TestSupport

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
        let card = ALSATestRig.card("holder-term")
        let holder = try PlayerProcess.launch(ALSATestRig.holderPath, ["-o", "lb0c"], environment: card.childEnvironment)
        #expect(card.isHeld(card: 0))

        // A second opener of the same device gets EBUSY and exits 1.
        let second = try runCapturing([ALSATestRig.holderPath, "-o", "lb0c"], environment: card.childEnvironment)
        #expect(second.ended == .exited(1))

        holder.kill(SIGTERM)
        #expect(holder.waitForExit(timeout: .seconds(5)) == .exited(0))
        #expect(!card.isHeld(card: 0))
    }

    @Test func ignoreTermNeedsSIGKILL() throws {
        let card = ALSATestRig.card("holder-kill")
        let holder = try PlayerProcess.launch(ALSATestRig.holderPath, ["-o", "lb0c", "--ignore-term"],
                                              environment: card.childEnvironment)
        holder.kill(SIGTERM)
        #expect(holder.waitForExit(timeout: .milliseconds(300)) == nil, "SIGTERM is ignored")
        #expect(card.isHeld(card: 0))
        holder.kill(SIGKILL)
        #expect(holder.waitForExit(timeout: .seconds(5)) == .signaled(SIGKILL))
        #expect(!card.isHeld(card: 0))
    }

    @Test func stateFileIsReadOnEveryOpen() throws {
        let card = ALSATestRig.card("holder-state")
        card.set("lb0c", "fail-open EBUSY")
        #expect(throws: RigError.self) {
            _ = try PlayerProcess.launch(ALSATestRig.holderPath, ["-o", "lb0c"], environment: card.childEnvironment)
        }
        card.set("lb0c", "ok")
        let holder = try PlayerProcess.launch(ALSATestRig.holderPath, ["-o", "lb0c"], environment: card.childEnvironment)
        holder.kill(SIGINT)
        #expect(holder.waitForExit(timeout: .seconds(5)) == .exited(0))
    }

    @Test func usageErrorWithoutDevice() throws {
        let run = try runCapturing([ALSATestRig.holderPath, "-n", "x"])
        #expect(run.ended == .exited(2))
    }
}

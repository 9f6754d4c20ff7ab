import Foundation
import Glibc
import Testing
import TestSupport
import Supervision
import Presentation
@testable import Reactor

extension InProcessLoopTests {
    /// The running watch in the in-process loop: a leftover that takes the
    /// device while the player runs is named at once, and ended only when
    /// the fake clock reaches its window, through the loop's one timer.
    @Suite(.enabled(if: ALSATestRig.productsAvailable, "build the package first: libMonitordTestPCM.so must sit next to the test bundle"))
    struct Watch {
        @Test func aLeftoverTakingTheDeviceIsEndedWhenItsWindowEndsOnTheFakeClock() throws {
            let device = ALSATestRig.makeDevice("loop-watch-leftover", state: "ok")
            let sound = (device.deviceFile as NSString).deletingLastPathComponent
            var settings = GateSettings(parameters: PCMParameters(device: device.pcmName, duration: .milliseconds(20)),
                                        soundDirectory: sound, commandBaseName: "pcm-holder", commandPath: ALSATestRig.holderPath,
                                        staleIdentity: .outputDevice(device.pcmName), stopTimeout: OptionDefaults.stopTimeout)
            settings.leftoverWindow = .seconds(10)
            // No gate in the table: the player starts at once (`--alsa-gate watch`).
            let rig = try Rig("exec sleep 100", configuration: SupervisionConfiguration(), gate: try ALSAGate(settings: settings))
            rig.loop.start()
            #expect(Self.isRunning(rig.loop.table.phase), "started without a probe")
            #expect(rig.loop.earliestDeadline == nil, "nothing held: no deadline")

            // A leftover (an orphan, as one of an earlier monitord is) takes the device.
            let pidFile = (device.stateFile as NSString).deletingLastPathComponent + "/holder.pid"
            var environment = ProcessInfo.processInfo.environment
            environment["ALSA_CONFIG_PATH"] = String(cString: getenv("ALSA_CONFIG_PATH"))
            let shell = try spawnProcess(["/bin/sh", "-c", "\"$0\" -o \"$1\" </dev/null >/dev/null 2>&1 & echo $! > \"$2\"",
                                          ALSATestRig.holderPath, device.pcmName, pidFile], environment: environment,
                                         stdout: "/dev/null", stderr: "/dev/null")
            #expect(waitForExit(shell, timeout: .seconds(5)) != nil)
            let holder = try #require(Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
            // Not this process's child: pinned by a pidfd, so that a failed
            // test ends it and nothing else.
            guard let pinned = try PinnedProcess.pin(holder) else {
                Issue.record("the holder pid \(holder) exited before it was pinned")
                return
            }
            defer { _ = try? pinned.signal(SIGKILL) }
            #expect(eventually(timeout: .seconds(5)) { !device.isFree }, "the leftover has the device open")

            #expect(rig.turn { rig.log.contains("\(device.pcmName) held by pid \(holder) (") }, "\(rig.log)")
            #expect(rig.log.contains("a leftover of pcm-holder"), "\(rig.log)")
            let gate = try #require(rig.loop.gate)
            #expect(gate.runningHolder?.pid == holder)
            #expect(rig.loop.earliestDeadline == rig.clock.now + .seconds(10), "its window, on the one timer")
            for _ in 0..<5 { rig.loop.turn(timeoutMilliseconds: 10) }
            #expect(!device.isFree && !rig.log.contains("ending stale player"), "not before its window:\n\(rig.log)")

            rig.advance(.seconds(10))
            #expect(rig.log.contains("ending stale player pid \(holder) ("), "\(rig.log)")
            #expect(rig.turn { rig.log.contains("stale player pid \(holder) has exited") }, "\(rig.log)")
            #expect(rig.turn { gate.runningHolder == nil }, "cleared when it let go:\n\(rig.log)")
            #expect(Self.isRunning(rig.loop.table.phase), "the player ran on")
            #expect(rig.loop.table.restarts == 0)
            #expect(rig.stop() == 0)
        }

        static func isRunning(_ phase: SupervisionPhase) -> Bool { InProcessLoopTests.isRunning(phase) }
    }
}

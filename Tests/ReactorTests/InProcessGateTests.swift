import Foundation
import Glibc
import Testing
import TestSupport
import Supervision
@testable import Presentation
@testable import Reactor

extension InProcessLoopTests {
    /// The ALSA gate and its device watcher in the in-process loop: a fake
    /// device served by the test plugin, real probes on the loop's epoll, and
    /// the fake clock for every wait, so a retry 10 s away is reached by
    /// advancing the clock, not by waiting.
    @Suite(.enabled(if: ALSATestRig.productsAvailable, "build the package first: libMonitordTestPCM.so must sit next to the test bundle"))
    struct Gate {
        /// Long waits between probes, so that only the fake clock or a release
        /// of the device brings the next one.
        static let timing = GateTiming(probeDuration: .milliseconds(20), probeRetry: .seconds(10), probeInterval: .seconds(10),
                                       staleAfter: 1000, holderGrace: .seconds(60))

        static func gate(for device: FakeDevice) throws -> ALSAGate {
            let sound = (device.deviceFile as NSString).deletingLastPathComponent
            mkdir(sound, 0o700)
            return try ALSAGate(settings: GateSettings(parameters: PCMParameters(device: device.pcmName, duration: .milliseconds(20)),
                                                       soundDirectory: sound, commandBaseName: "sh",
                                                       stopTimeout: OptionDefaults.stopTimeout))
        }

        /// A loop over `exec sleep 100` behind the gate on `device`, started
        /// and turned until the gate holds the child back.
        static func waitingRig(for device: FakeDevice, timing: GateTiming = timing, gate: ALSAGate? = nil) throws -> Rig {
            let rig = try Rig("exec sleep 100", configuration: SupervisionConfiguration(gate: timing), gate: try gate ?? Self.gate(for: device))
            rig.loop.start()
            #expect(rig.turn { Self.isWaiting(rig.loop.table.phase) }, "\(rig.log)")
            return rig
        }

        static func isRunning(_ phase: SupervisionPhase) -> Bool { InProcessLoopTests.isRunning(phase) }

        static func isWaiting(_ phase: SupervisionPhase) -> Bool {
            if case .waitingForDevice = phase { return true }
            return false
        }

        @Test func anUnavailableDeviceHoldsTheChildBackUntilTheRetryOnTheFakeClock() throws {
            let device = ALSATestRig.makeDevice("loop-gate-retry", state: "fail-open 16")
            let rig = try Self.waitingRig(for: device)
            #expect(rig.loop.tableDeadline == rig.clock.now + .seconds(10), "the next probe waits for the retry")
            // Free now, but nothing tells the gate: it waits for its deadline.
            device.setState("ok")
            for _ in 0..<5 { rig.loop.turn(timeoutMilliseconds: 10) }
            #expect(Self.isWaiting(rig.loop.table.phase), "no probe before the retry's deadline")
            rig.advance(.seconds(10))
            #expect(rig.turn { Self.isRunning(rig.loop.table.phase) }, "\(rig.log)")
            #expect(rig.log.contains(" ready after 10 s, 2 probes"), "\(rig.log)")
            #expect(rig.stop() == 0)
        }

        @Test func aReleasedDeviceNodeWakesTheWaitingGateBeforeItsRetry() throws {
            let device = ALSATestRig.makeDevice("loop-gate-release", state: "fail-open 16")
            let rig = try Self.waitingRig(for: device)
            let retry = rig.clock.now + .seconds(10)
            device.setState("ok")
            // Past the release gap, far from the retry: a player closes the node.
            rig.advance(.milliseconds(100))
            let node = (device.deviceFile as NSString).deletingLastPathComponent + "/pcmC7D0p"
            let fd = open(node, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            #expect(fd >= 0)
            close(fd)
            #expect(rig.turn { Self.isRunning(rig.loop.table.phase) }, "\(rig.log)")
            #expect(rig.clock.now < retry, "the watcher, not the retry timer, brought the probe")
            #expect(rig.stop() == 0)
        }

        /// A hiccup costs one info line, and it says what the first failed
        /// probe found: the report is written once, its gist ends the ready line.
        @Test func theReadyLineOfAHiccupSaysWhatTheFirstFailedProbeFound() throws {
            let device = ALSATestRig.makeDevice("loop-gate-report", state: "fail-hw 22")
            let rig = try Self.waitingRig(for: device)
            #expect(rig.log.split(separator: "\n").filter { $0.contains("fails unheld") }.count == 1, "\(rig.log)")
            device.setState("ok")
            rig.advance(.seconds(10))
            #expect(rig.turn { Self.isRunning(rig.loop.table.phase) }, "\(rig.log)")
            let ready = rig.log.split(separator: "\n").first { $0.contains(" ready after ") }
            #expect(ready?.hasSuffix("2 probes: hw_params: EINVAL (Invalid argument), no holder found") == true, "\(rig.log)")
            #expect(rig.stop() == 0)
        }

        /// A stale copy of the player (same executable, same `-o`, not this
        /// process's child) holds the device: the first failed probe's search
        /// ends it with SIGTERM, and the next probe on the fake clock starts
        /// the child.
        @Test func aStalePlayerHoldingTheDeviceIsEndedAndTheChildStarts() throws {
            let device = ALSATestRig.makeDevice("loop-gate-stale", state: "ok")
            let pidFile = (device.stateFile as NSString).deletingLastPathComponent + "/holder.pid"
            // Started through a shell that exits at once: an orphan, as a
            // leftover of an earlier monitord is.
            var environment = ProcessInfo.processInfo.environment
            environment["ALSA_CONFIG_PATH"] = String(cString: getenv("ALSA_CONFIG_PATH"))
            let shell = try spawnProcess(["/bin/sh", "-c", "\"$0\" -o \"$1\" </dev/null >/dev/null 2>&1 & echo $! > \"$2\"",
                                          ALSATestRig.holderPath, device.pcmName, pidFile], environment: environment,
                                     stdout: "/dev/null", stderr: "/dev/null")
            #expect(waitForExit(shell, timeout: .seconds(5)) != nil)
            let holder = try #require(Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
            // Not this process's child: pinned by a pidfd while it surely runs
            // (the shell's fork, then the holder), so that a failed test ends
            // it and nothing else.
            guard let pinned = try PinnedProcess.pin(holder) else {
                Issue.record("the holder pid \(holder) exited before it was pinned")
                return
            }
            defer { _ = try? pinned.signal(SIGKILL) }
            #expect(eventually(timeout: .seconds(5)) { !device.isFree }, "the holder has the device open")
            #expect(StaleSafetyTests.commandLine(holder).first == ALSATestRig.holderPath)
            let settings = GateSettings(parameters: PCMParameters(device: device.pcmName, duration: .milliseconds(20)),
                                        soundDirectory: (device.deviceFile as NSString).deletingLastPathComponent,
                                        commandBaseName: "pcm-holder", commandPath: ALSATestRig.holderPath,
                                        staleIdentity: .outputDevice(device.pcmName), stopTimeout: OptionDefaults.stopTimeout)
            var timing = Self.timing
            timing.staleAfter = 1
            let rig = try Rig("exec sleep 100", configuration: SupervisionConfiguration(gate: timing), gate: try ALSAGate(settings: settings))
            rig.loop.start()
            #expect(rig.turn { rig.log.contains("stale player pid \(holder) has exited") }, "\(rig.log)")
            #expect(rig.log.contains("ending stale player pid \(holder) ("), "\(rig.log)")
            rig.advance(.seconds(10))
            #expect(rig.turn { Self.isRunning(rig.loop.table.phase) }, "\(rig.log)")
            #expect(rig.stop() == 0)
        }
    }
}

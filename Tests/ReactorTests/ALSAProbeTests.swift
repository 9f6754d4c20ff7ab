import Foundation
import Glibc
import Testing
import Reactor
import Supervision

/// PCMProbe against the monitordtest plugin. Serialized: alsa-lib's
/// configuration is process-global, and timing assertions should not
/// compete with each other for the two cores.
@Suite(.serialized, .enabled(if: ALSATestRig.productsAvailable, "build the package first: libMonitordTestPCM.so and pcm-holder must sit next to the test bundle"))
struct ALSAProbeTests {
    @Test func okModeSucceedsAtDevicePace() {
        let device = ALSATestRig.makeDevice("probe-ok", state: "ok")
        let probe = PCMProbe(PCMParameters(device: device.pcmName))
        let run = drive(probe, timeout: 5)

        #expect(run.progress == .succeeded)
        // 1 s of silence through a 0.5 s buffer: the second half can only be
        // written as the device plays the first, one 125 ms period at a time.
        #expect(run.elapsedSeconds > 0.40, "took \(run.elapsedSeconds) s")
        #expect(run.elapsedSeconds < 1.0, "took \(run.elapsedSeconds) s")
        #expect(run.wakeups >= 4 && run.wakeups <= 12, "\(run.wakeups) wakeups")
        #expect(run.cpuSeconds < 0.05, "probe used \(run.cpuSeconds) s CPU")
        #expect(probe.interests.isEmpty)
        #expect(device.isFree, "a finished probe must have closed the PCM")
        print("ALSA probe ok: \(String(format: "%.3f", run.elapsedSeconds)) s wall, \(String(format: "%.3f", run.cpuSeconds * 1000)) ms CPU, \(run.wakeups) wakeups")
    }

    @Test func startRegistersThePluginsPollDescriptor() {
        let device = ALSATestRig.makeDevice("probe-interest", state: "ok")
        let probe = PCMProbe(PCMParameters(device: device.pcmName))
        #expect(probe.start() == .pending)
        #expect(probe.interests.count == 1)
        #expect(probe.interests.first.map { $0.events & UInt32(POLLIN) != 0 } == true, "the plugin signals playback room as POLLIN")
        #expect(!device.isFree, "the PCM is open while pending")
        probe.close()
        probe.close() // idempotent
        #expect(probe.interests.isEmpty)
        #expect(device.isFree)
    }

    static let failures: [(state: String, expected: ProbeFailure)] = [
        ("fail-open 16", ProbeFailure(stage: .open, errno: EBUSY)),
        ("fail-open ENODEV", ProbeFailure(stage: .open, errno: ENODEV)),
        ("fail-hw 22", ProbeFailure(stage: .hwParams, errno: EINVAL)),
        // snd_pcm_hw_params prepares the PCM, so a failing prepare shows there.
        ("fail-prepare 5", ProbeFailure(stage: .hwParams, errno: EIO)),
        ("fail-reprepare 5", ProbeFailure(stage: .prepare, errno: EIO)),
        ("fail-sw 22", ProbeFailure(stage: .swParams, errno: EINVAL)),
        ("fail-write", ProbeFailure(stage: .write, errno: EIO)),
        ("no-such-mode", ProbeFailure(stage: .open, errno: EINVAL)),
    ]

    @Test(arguments: failures)
    func failureModesReportStageAndErrno(state: String, expected: ProbeFailure) {
        let device = ALSATestRig.makeDevice("probe-fail", state: state)
        let probe = PCMProbe(PCMParameters(device: device.pcmName))
        let started = monotonicSeconds()
        let result = probe.start()
        #expect(result == .failed(expected), "state \(state)")
        #expect(monotonicSeconds() - started < 0.2, "a refusal must be reported at once")
        #expect(probe.interests.isEmpty)
        #expect(device.isFree)
        // Once failed, further calls only repeat the result.
        #expect(probe.handle(fd: 0, events: UInt32(POLLIN)) == .failed(expected))
        #expect(probe.pump() == .failed(expected))
    }

    @Test func undefinedPCMIsENOENT() {
        _ = ALSATestRig.installedInProcess
        let probe = PCMProbe(PCMParameters(device: "monitord_no_such_pcm"))
        #expect(probe.start() == .failed(ProbeFailure(stage: .open, errno: ENOENT)))
    }

    @Test func unsupportedRateIsHwParamsEINVAL() {
        let device = ALSATestRig.makeDevice("probe-rate", state: "ok")
        let probe = PCMProbe(PCMParameters(device: device.pcmName, rate: 400_000))
        #expect(probe.start() == .failed(ProbeFailure(stage: .hwParams, errno: EINVAL)))
        #expect(device.isFree)
    }

    @Test func neverReadyStaysPendingUntilTheCallerGivesUp() {
        let device = ALSATestRig.makeDevice("probe-never", state: "never-ready")
        let probe = PCMProbe(PCMParameters(device: device.pcmName))
        let run = drive(probe, timeout: 1.2)
        #expect(run.progress == .pending)
        #expect(run.elapsedSeconds >= 1.2)
        #expect(run.wakeups <= 1, "a device that never drains must not wake the reactor: \(run.wakeups)")
        #expect(run.cpuSeconds < 0.05)
        #expect(!probe.interests.isEmpty)
        probe.close() // the reactor's deadline: close, never drain
        #expect(device.isFree)
    }

    @Test func underrunIsRecoveredAndCountsAsProgress() {
        let device = ALSATestRig.makeDevice("probe-xrun", state: "xrun-once")
        let probe = PCMProbe(PCMParameters(device: device.pcmName))
        let run = drive(probe, timeout: 5)
        #expect(run.progress == .succeeded)
        #expect(run.elapsedSeconds < 1.5)
        #expect(device.isFree)
    }

    @Test func busyWhileAPlayerHoldsTheDeviceThenReadyAfterItExits() throws {
        let device = ALSATestRig.makeDevice("probe-busy", state: "ok")
        // The holder reads the same configuration as this process (`mdtest`).
        var environment = ProcessInfo.processInfo.environment
        environment["ALSA_CONFIG_PATH"] = String(cString: getenv("ALSA_CONFIG_PATH"))
        let holder = try PlayerProcess.launch(ALSATestRig.holderPath, ["-o", device.pcmName], environment: environment)

        let busy = PCMProbe(PCMParameters(device: device.pcmName))
        #expect(busy.start() == .failed(ProbeFailure(stage: .open, errno: EBUSY)))

        holder.kill(SIGTERM)
        #expect(holder.waitForExit(timeout: .seconds(5)) == .exited(0), "pcm-holder exits 0 on SIGTERM")
        let free = PCMProbe(PCMParameters(device: device.pcmName, duration: .milliseconds(200)))
        #expect(drive(free, timeout: 5).progress == .succeeded)
    }

    @Test func shortDurationStillNeedsTheDeviceToPlay() {
        let device = ALSATestRig.makeDevice("probe-short", state: "ok")
        let probe = PCMProbe(PCMParameters(device: device.pcmName, duration: .milliseconds(200)))
        let run = drive(probe, timeout: 5)
        #expect(run.progress == .succeeded)
        #expect(run.elapsedSeconds > 0.05 && run.elapsedSeconds < 0.5, "took \(run.elapsedSeconds) s")
    }

    /// monitord's default probe (50 ms) is over once the device has played
    /// some of it: not at once (the silence has to be played, not just
    /// buffered), and not after a fixed second either.
    @Test func aShortProbeEndsOnceTheDeviceHasPlayedSomeOfIt() {
        let device = ALSATestRig.makeDevice("probe-brief", state: "ok")
        let probe = PCMProbe(PCMParameters(device: device.pcmName, duration: .milliseconds(20)))
        let run = drive(probe, timeout: 5)
        #expect(run.progress == .succeeded)
        // 20 ms written through a buffer of at most 20 ms (aiming at 10 ms):
        // at least the part beyond the buffer, two periods, was played.
        #expect(run.elapsedSeconds > 0.004, "took \(run.elapsedSeconds) s: it cannot have waited for the device")
        #expect(run.elapsedSeconds < 0.5, "took \(run.elapsedSeconds) s")
        #expect(run.wakeups >= 2, "\(run.wakeups) wakeups: the device's readiness must have been waited for")
        #expect(device.isFree)
    }

    /// The plugin's smallest buffer is 1024 bytes (5.3 ms at 48 kHz stereo):
    /// a probe shorter than that keeps the device's buffer instead of
    /// failing hw_params, and still waits for two of its periods.
    @Test func aProbeShorterThanTheSmallestBufferStillPlays() {
        let device = ALSATestRig.makeDevice("probe-tiny", state: "ok")
        let probe = PCMProbe(PCMParameters(device: device.pcmName, duration: .milliseconds(2)))
        let run = drive(probe, timeout: 5)
        #expect(run.progress == .succeeded)
        #expect(run.wakeups >= 1, "the device's readiness must have been waited for")
        #expect(device.isFree)
        let stuck = ALSATestRig.makeDevice("probe-tiny-never", state: "never-ready")
        let never = PCMProbe(PCMParameters(device: stuck.pcmName, duration: .milliseconds(2)))
        #expect(drive(never, timeout: 0.3).progress == .pending, "a device that never plays never passes")
        never.close()
    }

    /// `null`'s poll descriptor is /dev/null, which epoll refuses (EPERM):
    /// the reactor then calls pump() instead of waiting.
    @Test func nullDeviceSucceedsThroughPump() {
        _ = ALSATestRig.installedInProcess
        let probe = PCMProbe(PCMParameters(device: "null"))
        var progress = probe.start()
        var pumps = 0
        while progress == .pending && pumps < 100 {
            progress = probe.pump()
            pumps += 1
        }
        #expect(progress == .succeeded)
        #expect(pumps < 100)
    }

    /// Open, refuse, close: the steady-state cost of one failed attempt.
    @Test func failedAttemptIsCheap() {
        let device = ALSATestRig.makeDevice("probe-cost", state: "fail-hw 22")
        _ = PCMProbe(PCMParameters(device: device.unlockedPCMName)).start() // warm alsa-lib's config cache
        let attempts = 200
        let startCPU = threadCPUSeconds()
        for _ in 0..<attempts {
            let probe = PCMProbe(PCMParameters(device: device.unlockedPCMName))
            #expect(probe.start() == .failed(ProbeFailure(stage: .hwParams, errno: EINVAL)))
        }
        let perAttempt = (threadCPUSeconds() - startCPU) / Double(attempts)
        // Spawning `aplay -d 1` costs ~1.8 ms CPU; the target is 10× below.
        #expect(perAttempt < 0.00018, "\(perAttempt * 1000) ms CPU per attempt")
        print("ALSA failed attempt: \(String(format: "%.4f", perAttempt * 1000)) ms CPU (debug build)")
    }
}

import Foundation
import Glibc
import Testing
import TestSupport

/// Long runs, bounded for CI: a crash loop of 10,000 restarts and a device
/// that stays busy for thousands of probes. monitord must come out of them
/// with the same descriptors, anonymous memory and threads it had early on,
/// with no zombie left at any sample point and every exit accounted for.
@Suite struct SoakTests {
    /// Under a sanitizer every cycle is several times slower and memory
    /// growth is not checked (LSan is), so fewer cycles still show that
    /// descriptors, threads and zombies stay put.
    static let cycles = Sanitizer.kind == nil ? 10_000 : 2_000
    /// Only a guard against a hang: the soaks end on their count, however
    /// slow the machine, and assert no rate.
    static let deadline: Duration = .seconds(420)

    @Test(.timeLimit(.minutes(8)))
    func tenThousandCrashCyclesLeakNothingAndLoseNoExit() throws {
        let scratch = Scratch()
        let statusPath = scratch.file("status")
        let clock = ContinuousClock()
        let began = clock.now
        // -v: every start is logged (at the cap starts are debug lines, exits
        // are folded into one line per ten identical ones).
        let monitord = try Monitord(["-v", "--backoff-initial", "0", "--backoff-max", "0", "--status-file", statusPath,
                                     "/bin/false"], scratch: scratch)
        let tail = LogTail(monitord.logPath)
        // The status file is rewritten on every transition through a
        // temporary file: a sample taken mid-write holds it for an instant
        // (seen once at cycle 100), so such samples are taken again.
        let writingStatus: (String) -> Bool = { $0.hasSuffix("/status.tmp") }
        var starts = 0
        var early: Footprint?
        var lingering: Set<pid_t> = []
        var samples = 0
        let deadline = clock.now + Self.deadline
        while starts < Self.cycles && clock.now < deadline && monitord.wait(timeout: .zero) == nil {
            starts += tail.newLines().filter { $0.contains("started false (pid ") }.count
            if early == nil && starts >= 100 { early = footprintBetweenProbes(of: monitord.pid, duringProbe: writingStatus) }
            lingering.formUnion(lingeringZombies(of: monitord.pid))
            samples += 1
            usleep(20_000)
        }
        let elapsed = clock.now - began
        let late = footprintBetweenProbes(of: monitord.pid, duringProbe: writingStatus)
        lingering.formUnion(lingeringZombies(of: monitord.pid))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        print("soak: \(starts) crash cycles in \(elapsed) (\(samples) samples); early \(early.map(\.description) ?? "none"); late \(late)")

        #expect(starts >= Self.cycles, "only \(starts) cycles before the deadline")
        let first = try #require(early)
        #expect(late.descriptors == first.descriptors, "descriptors changed between cycle 100 and cycle \(starts)")
        // One thread, never more (under qemu-user the emulator's own threads
        // are counted too: then only "no new thread" is checked).
        #expect(late.threads == first.threads && (late.threads == "1" || Products.isEmulated))
        // RssAnon is counted in 4 kB pages and malloc settles within the first
        // few hundred cycles; one page of slack still catches any leak of a
        // byte or more per cycle (10 kB over 10,000 cycles).
        let growth = (kilobytes(late.rssAnon) ?? .max) - (kilobytes(first.rssAnon) ?? 0)
        if !Sanitizer.changesMemory {
            #expect(growth <= 4, "RssAnon grew \(growth) kB between cycle 100 and cycle \(starts): \(first) -> \(late)")
        }
        #expect(lingering.isEmpty, "zombies left unreaped: \(lingering)")
        #expect(ProcessTable.children(of: monitord.pid).isEmpty)

        // Every start is logged once, numbered without a gap.
        let lines = monitord.logLines
        let startLines = lines.filter { $0.contains("started false (pid ") }
        let numbers = startLines.dropFirst().map { line -> Int in
            guard let range = line.range(of: "(restart ") else { return -1 }
            return Int(line[range.upperBound...].prefix { $0.isNumber }) ?? -1
        }
        #expect(numbers == Array(1..<startLines.count), "restart numbers have gaps or repeats")
        // Every exit is logged: one line each while the delay grows, then one
        // summary per ten identical exits (counts 10, 20, 30, ...) and, at the
        // stop, one for the rest; the stop line ends the last child.
        let explicitExits = lines.filter { $0.contains("false (pid ") && $0.contains(" exited 1 after ") }.count
        let folded = lines.compactMap { line -> Int? in
            guard line.contains("false exited 1 again ("), let range = line.range(of: "again (") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        #expect(folded.dropLast() == ArraySlice(stride(from: 10, through: (folded.count - 1) * 10, by: 10)), "summaries skip exits")
        #expect(folded.count < 2 || folded.last! > folded[folded.count - 2])
        let stopped = lines.filter { $0.contains("stopped: false (pid ") }.count
        #expect(stopped == 1, "the stop ends exactly one running child")
        // The stop reports the exits folded since the last summary: exact.
        let accounted = explicitExits + (folded.last ?? 0) + stopped
        #expect(accounted == startLines.count, "\(startLines.count) starts, \(accounted) exits accounted for")
        // The status file counts every restart, folded or not.
        let status = statusFields(statusPath)
        #expect(status["state"] == "stopped")
        #expect(status["restarts"] == "\(startLines.count - 1)", "status \(status)")
    }

    /// A busy device probed every millisecond: open fails with EBUSY on each
    /// probe, thousands of times.
    /// `fail-hw`: the open succeeds and a later stage fails, thousands of times
    /// (the configuration stays cached: re-reading it on every probe grew the heap).
    @Test(.needsTestPlugin, .timeLimit(.minutes(8)), arguments: ["fail-open", "held", "fail-hw"])
    func thousandsOfBusyProbesLeakNothing(mode: String) throws {
        let scratch = Scratch()
        let device = ["held": "lb78c", "fail-open": "lb79c", "fail-hw": "lb69c"][mode]!
        let card = FakeSoundCard(scratch, devices: [device])
        var holder: SpawnedChild?
        if mode == "held" {
            // A real holder: every probe gets into the plugin, opens the device
            // node and finds it locked (EBUSY), the way a held loopback fails.
            holder = try card.startPlayer(named: "other-player", arguments: ["-o", device], logName: "holder")
            #expect(eventually { card.isHeld(card: 0) })
        } else if mode == "fail-hw" {
            card.set(device, "fail-hw EINVAL")
        } else {
            card.set(device, "fail-open EBUSY")
        }
        defer { holder?.end() }
        let statusPath = scratch.file("status")
        let target = (mode == "fail-open" ? 3000 : 1500) / (Sanitizer.kind == nil ? 1 : 3)
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--probe-interval", "1ms", "--probe-duration", "10ms",
                                     "--stale-after", "1000000", "--status-file", statusPath,
                                     "--", GateTests.player(scratch), "-o", device],
                                    scratch: scratch, environment: card.environment)
        func probes() -> Int { Int(statusFields(statusPath)["gate_failed_probes"] ?? "") ?? 0 }
        // As /proc shows it (the scratch path may contain "//").
        let node = canonicalPath(card.soundDirectory) + "/"
        // What a probe holds while it runs: the device node, and the test
        // plugin's state file, read on every open.
        func duringProbe(_ descriptor: String) -> Bool { descriptor.contains(node) || descriptor.hasSuffix("/state-\(device)") }
        let reason = mode == "fail-hw" ? "hw_params: EINVAL" : "open: EBUSY"
        #expect(monitord.waitForLog("\(device) is not available (\(reason)"), "\(monitord.log)")
        // Counted from here: the line above can come only when the holder
        // grace ends (1 s of probes every 1 ms), by which time a sanitized
        // build may already be past an absolute target.
        let before = probes()
        let clock = ContinuousClock()
        var early: Footprint?
        var earlyAt = 0
        var nodeSeen: [String] = []
        let began = clock.now
        let deadline = clock.now + Self.deadline
        while probes() < before + target && clock.now < deadline && monitord.wait(timeout: .zero) == nil {
            // Between probes no PCM handle may stay open: the fake node is
            // never among monitord's descriptors once a probe is over.
            let footprint = footprintBetweenProbes(of: monitord.pid, duringProbe: duringProbe)
            nodeSeen += footprint.descriptors.filter { $0.contains(node) }
            if early == nil && probes() >= before + 200 {
                early = footprint
                earlyAt = probes()
            }
            usleep(20_000)
        }
        let elapsed = clock.now - began
        let total = probes()
        let late = footprintBetweenProbes(of: monitord.pid, duringProbe: duringProbe)
        print("soak (\(mode)): \(total) probes in \(elapsed), \(Double(total) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)) per second; early (\(earlyAt)) \(early.map(\.description) ?? "none"); late \(late)")
        #expect(total >= before + target, "only \(total - before) probes after the first \(before)")
        let first = try #require(early)
        #expect(late.descriptors == first.descriptors, "descriptors changed between probe \(earlyAt) and probe \(total)")
        #expect(late.threads == "1")
        // One page of slack, as in the crash soak: a leak of 3 bytes or more
        // per probe still shows (re-reading the configuration on each probe
        // grew the heap by ~15 bytes per probe).
        let growth = (kilobytes(late.rssAnon) ?? .max) - (kilobytes(first.rssAnon) ?? 0)
        if !Sanitizer.changesMemory {
            #expect(growth <= 4, "RssAnon grew \(growth) kB between probe \(earlyAt) and probe \(total)")
        }
        #expect(late.descriptors.allSatisfy { !$0.contains(node) })
        #expect(nodeSeen.isEmpty, "a PCM handle stayed open between probes: \(nodeSeen)")
        #expect(monitord.count("is not available") == 1, "one line for the whole wait")
        #expect(monitord.count("started ") == 0)

        // The device comes back: one probe later the child runs.
        if let holder {
            holder.signal(SIGTERM)
            #expect(holder.wait() == .exited(0))
        } else {
            card.set(device, "ok")
        }
        #expect(monitord.waitForLog("started player.sh", timeout: .seconds(20)), "\(monitord.log)")
        #expect(monitord.log.contains("\(device) ready after"))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    /// A device that opens but never drains: each probe holds the PCM until
    /// the probe deadline (1.02 s here), then must close it before waiting.
    /// (The status file says waiting-for-device during re-probes too, so the
    /// wait is told by time: the next probe opens 1 s after a failure.)
    @Test(.needsTestPlugin, .timeLimit(.minutes(2)))
    func neverReadyProbesCloseTheirHandle() throws {
        let scratch = Scratch()
        let device = "lb77c"
        let card = FakeSoundCard(scratch, devices: [device])
        card.set(device, "never-ready")
        let statusPath = scratch.file("status")
        let monitord = try Monitord(["--snd-dir", card.soundDirectory, "--probe-interval", "1s", "--probe-duration", "10ms",
                                     "--stale-after", "1000000", "--status-file", statusPath,
                                     "--", GateTests.player(scratch), "-o", device],
                                    scratch: scratch, environment: card.environment)
        func probes() -> Int { Int(statusFields(statusPath)["gate_failed_probes"] ?? "") ?? 0 }
        let node = canonicalPath(card.soundDirectory) + "/"
        let clock = ContinuousClock()
        var footprints: [Int: Footprint] = [:]   // taken between probes, by failed-probe count
        var heldDuringProbe = false
        var nodeSeen: [String] = []
        var seen = 0
        var lastRead = clock.now
        #expect(eventually(timeout: .seconds(60)) {
            let readAt = clock.now
            let count = probes()
            if count > seen {
                // The failure happened after the previous read; the next probe
                // opens no earlier than 1 s after it. A sample finished before
                // then is inside the wait.
                let footprint = Footprint(of: monitord.pid)
                if clock.now - lastRead < .milliseconds(800) && probes() == count {
                    footprints[count] = footprint
                    nodeSeen += footprint.descriptors.filter { $0.contains(node) }
                }
                seen = count
            } else if Footprint(of: monitord.pid).descriptors.contains(where: { $0.contains(node) }) {
                heldDuringProbe = true
            }
            lastRead = readAt
            return count >= 6
        })
        #expect(heldDuringProbe, "control: the node shows among the descriptors while a probe runs")
        #expect(footprints.count >= 3, "too few samples inside waits: \(footprints.keys.sorted())")
        #expect(nodeSeen.isEmpty, "a PCM handle stayed open between probes: \(nodeSeen)")
        let samples = footprints.keys.sorted().map { footprints[$0]! }
        #expect(Set(samples.map(\.descriptors)).count == 1, "descriptors changed between waits: \(samples.map(\.descriptors))")
        #expect(samples.allSatisfy { $0.threads == "1" })
        #expect(monitord.log.contains("no playback progress before the probe deadline"))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }
}

import CKernelShim
import Foundation
import Glibc
import Testing
import TestSupport

/// Faults around monitord that it must survive: exhausted descriptors and
/// processes, a command that disappears, children that misbehave, signal
/// storms, stop signals in every state, and a broken stderr.
@Suite struct FaultTests {
    /// A child that records each start, then fails after `run`.
    static func failingChild(_ scratch: Scratch, name: String = "child.sh", run: String = "0", code: Int = 1) -> String {
        scratch.script(name, """
        echo x >> "\(scratch.file("starts"))"
        sleep \(run)
        exit \(code)
        """)
    }

    static let fastBackoff = ["--backoff-initial", "50ms", "--backoff-max", "200ms"]

    // MARK: Resource limits

    /// RLIMIT_NOFILE 6 leaves no descriptor for clone's pidfd (0-2 and
    /// monitord's signalfd, epoll and timerfd take 0-5): every spawn fails
    /// with EMFILE. Raising the soft limit of the running monitord lets the
    /// next attempt succeed.
    @Test(.notEmulated(.ownDescriptors)) func descriptorExhaustionAtSpawnIsAFailureAndRecovers() throws {
        let scratch = Scratch()
        let child = Self.failingChild(scratch, run: "1000")
        let monitord = try Launched(["/usr/bin/prlimit", "--nofile=6:1024", Products.monitord] + Self.fastBackoff + [child],
                                    scratch: scratch)
        #expect(monitord.waitForLog("cannot start child.sh: fork: EMFILE", count: 3), "\(monitord.log)")
        #expect(monitord.isRunning)
        // stdin, stdout, stderr, signalfd, epoll, timerfd: nothing else inherited.
        #expect(Footprint(of: monitord.pid).descriptors.count == 6, "\(Footprint(of: monitord.pid))")
        #expect(monitord.log.contains("restarting in 200 ms (failure 3)"), "counted as failures with the backoff")
        #expect(scratch.lines("starts").isEmpty)
        try run(["/usr/bin/prlimit", "--pid", "\(monitord.pid)", "--nofile=64:1024"], scratch: scratch)
        #expect(eventually { scratch.lines("starts").count == 1 }, "\(monitord.log)")
        #expect(monitord.waitForLog("started child.sh"))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(monitord.log.contains("stopped: child.sh"))
    }

    /// With the gate (stdin, stdout, stderr, signalfd, epoll and the one
    /// timerfd open), descriptors run out in the probe: with none spare
    /// alsa-lib cannot read its configuration (and caches the empty result);
    /// with one it gets further. Either way the wait goes on, and the device
    /// is found once descriptors free (the configuration is read again).
    @Test(.needsTestPlugin, arguments: [(6, "lb75c"), (7, "lb76c")])
    func descriptorExhaustionAtProbeIsWaitedOutAndRecovers(limit: Int, device: String) throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch, devices: [device])
        let monitord = try Launched(["/usr/bin/prlimit", "--nofile=\(limit):1024", Products.monitord,
                                     "--snd-dir", card.soundDirectory, "--probe-interval", "100ms", "--probe-duration", "100ms",
                                     "--stale-after", "1000", "--", GateTests.player(scratch), "-o", device],
                                    scratch: scratch, environment: card.environment)
        #expect(monitord.waitForLog("\(device) is not available ("), "\(monitord.log)")
        // alsa-lib reports EMFILE, or ENOENT when it could not read (part of)
        // its configuration: which one depends on its nesting of includes.
        #expect(monitord.log.contains("open: EMFILE") || monitord.log.contains("open: ENOENT"))
        usleep(300_000)
        #expect(monitord.isRunning)
        #expect(scratch.lines("player-starts").isEmpty)
        try run(["/usr/bin/prlimit", "--pid", "\(monitord.pid)", "--nofile=64:1024"], scratch: scratch)
        #expect(eventually(timeout: .seconds(10)) { scratch.lines("player-starts").count == 1 }, "\(monitord.log)")
        #expect(monitord.log.contains("\(device) ready after"))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    /// RLIMIT_NPROC applies to non-root users only: monitord runs as nobody
    /// with a soft limit of 1 (itself), so clone fails with EAGAIN. The
    /// limit is raised as that user (raising a soft limit up to the hard one
    /// needs no privilege). nobody runs a copy of monitord in a directory it
    /// can reach, wherever the clone is.
    @Test(.notEmulated(.ownThreads), .rootOnly(canRunAsOtherUser, "needs root (setpriv) and a /tmp that others can reach"))
    func processLimitIsAFailureWithBackoffAndRecovers() throws {
        let scratch = Scratch()
        let shared = try SharedDirectory()
        let binary = try shared.copy(Products.monitord, as: "monitord")
        defer { withExtendedLifetime(shared) {} }
        let monitord = try Launched(asOtherUser + ["/usr/bin/prlimit", "--nproc=1:4096", binary]
                                    + Self.fastBackoff + ["/bin/sleep", "1000"], scratch: scratch,
                                    environment: shared.sanitizerEnvironment())
        #expect(monitord.waitForLog("cannot start sleep: fork: EAGAIN", count: 3), "\(monitord.log)")
        #expect(monitord.log.contains("restarting in 50 ms (failure 1)"))
        #expect(monitord.log.contains("restarting in 200 ms (failure 3)"))
        #expect(monitord.isRunning)
        try run(asOtherUser + ["/usr/bin/prlimit", "--pid", "\(monitord.pid)", "--nproc=4096:4096"], scratch: scratch)
        #expect(monitord.waitForLog("started sleep"), "\(monitord.log)")
        let child = try #require(monitord.firstStartedPID())
        #expect(ProcessTable.status(of: child, field: "Uid")?.hasPrefix(otherUID) == true)
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(!ProcessTable.isAlive(child))
    }

    // MARK: The command goes away

    /// After the first start an exec failure is an upgrade in progress, not a
    /// usage error: monitord keeps backing off and starts the command again
    /// once it is back.
    @Test(.notEmulated(.vforkIsAFork), arguments: ["chmod -x", "removed"])
    func commandGoneWhileSupervisingIsRetriedUntilBack(how: String) throws {
        let scratch = Scratch()
        let child = Self.failingChild(scratch)
        let monitord = try Monitord(Self.fastBackoff + [child], scratch: scratch)
        #expect(eventually { scratch.lines("starts").count >= 2 })
        let away = scratch.file("child.sh.away")
        if how == "removed" {
            #expect(rename(child, away) == 0)
        } else {
            #expect(chmod(child, 0o644) == 0)
        }
        let reason = how == "removed" ? "exec: ENOENT" : "exec: EACCES"
        #expect(monitord.waitForLog("cannot start child.sh: \(reason)", count: 3), "\(monitord.log)")
        #expect(monitord.wait(timeout: .zero) == nil, "still supervising")
        let startsWhileGone = scratch.lines("starts").count
        if how == "removed" {
            #expect(rename(away, child) == 0)
        } else {
            #expect(chmod(child, 0o755) == 0)
        }
        #expect(eventually { scratch.lines("starts").count >= startsWhileGone + 2 }, "\(monitord.log)")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(!monitord.log.contains("cannot execute"))
    }

    // MARK: Children that misbehave

    /// A child that forks a grandchild (ignoring SIGTERM) and exits: the exit
    /// alone ends the group (SIGTERM, then SIGKILL after the stop timeout);
    /// so does a stop.
    @Test(arguments: ["exit", "stop"])
    func grandchildrenEndWithTheirParent(how: String) throws {
        let scratch = Scratch()
        let child = scratch.script("parent.sh", """
        sh -c 'trap "" TERM; echo $$ > "\(scratch.file("grandchild"))"; exec sleep 1000' &
        trap 'exit 0' TERM
        while [ ! -s "\(scratch.file("grandchild"))" ]; do sleep 0.01; done
        \(how == "exit" ? "exit 1" : "while :; do sleep 0.05; done")
        """)
        let monitord = try Monitord(["--backoff-initial", "1m", "--backoff-max", "1m", "--stop-timeout", "1s", child], scratch: scratch)
        #expect(eventually { pid_t(scratch.read("grandchild").trimmingCharacters(in: .whitespacesAndNewlines)) != nil })
        let grandchild = try #require(pid_t(scratch.read("grandchild").trimmingCharacters(in: .whitespacesAndNewlines)))
        let parent = try #require(monitord.firstStartedPID())
        if how == "exit" {
            #expect(monitord.waitForLog("exited 1 after"))
        } else {
            #expect(ProcessTable.isAlive(grandchild))
            let clock = ContinuousClock()
            let start = clock.now
            monitord.signal(SIGTERM)
            #expect(monitord.wait() == .exited(0))
            #expect(clock.now - start < .seconds(10), "no wait beyond the 1 s stop timeout")
        }
        #expect(eventually(timeout: .seconds(5)) { !ProcessTable.isAlive(grandchild) }, "grandchild \(grandchild) survived")
        // A member SIGKILLed with its group may not have run to its death yet on a loaded machine.
        #expect(eventually { ProcessTable.groupIsEmpty(parent) })
        if how == "exit" {
            monitord.signal(SIGTERM)
            #expect(monitord.wait() == .exited(0))
        }
    }

    @Test func aChildClosingStdoutAndStderrIsSupervisedAsUsual() throws {
        let scratch = Scratch()
        let child = scratch.script("closer.sh", """
        exec >&- 2>&-
        echo x >> "\(scratch.file("starts"))"
        sleep 0.05
        exit 1
        """)
        let monitord = try Monitord(Self.fastBackoff + [child], scratch: scratch)
        #expect(eventually { scratch.lines("starts").count >= 4 })
        #expect(monitord.count("closer.sh (pid") >= 2)
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    /// 8 MB on the shared stderr (a file): monitord's own lines stay whole.
    @Test func aChildWritingMegabytesToStderrDoesNotDisturbMonitord() throws {
        let scratch = Scratch()
        let child = scratch.script("noisy.sh", """
        echo x >> "\(scratch.file("starts"))"
        head -c 4000000 /dev/zero | tr '\\0' 'x' >&2
        echo >&2
        exit 3
        """)
        let monitord = try Monitord(Self.fastBackoff + [child], scratch: scratch)
        #expect(eventually(timeout: .seconds(30)) { scratch.lines("starts").count >= 3 })
        #expect(monitord.waitForLog("noisy.sh (pid", count: 2, timeout: .seconds(30)))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        let size = (try? FileManager.default.attributesOfItem(atPath: monitord.logPath)[.size] as? Int) ?? 0
        #expect(size >= 8_000_000)
        // Each of monitord's lines is one write, never split by the child's
        // output (which may run on around it, having no newline of its own).
        let own = monitord.logLines.compactMap { line -> Substring? in
            line.range(of: "monitord[").map { line[$0.lowerBound...] }
        }
        #expect(own.allSatisfy { !$0.contains("xxx") })
        #expect(own.filter { $0.contains("noisy.sh (pid") && $0.contains("exited 3 after") }.count >= 2)
    }

    /// A child that stops itself is not an exit. A stop signal must still end
    /// it promptly: monitord sends SIGCONT after the stop signal (as systemd
    /// does), so a stopped child acts on SIGTERM at once instead of being
    /// SIGKILLed at the stop timeout without a chance to close its device.
    @Test func aStoppedChildIsNotAnExitAndStillStopsPromptly() throws {
        let scratch = Scratch()
        let child = scratch.script("stopper.sh", """
        trap 'echo TERM >> "\(scratch.file("got"))"; exit 0' TERM
        echo x >> "\(scratch.file("starts"))"
        kill -STOP $$
        echo continued >> "\(scratch.file("got"))"
        while :; do sleep 0.05; done
        """)
        let monitord = try Monitord(["--stop-timeout", "30s", child], scratch: scratch)
        #expect(monitord.waitForLog("started stopper.sh"))
        let pid = try #require(monitord.firstStartedPID())
        #expect(eventually { ProcessTable.state(of: pid) == "T" })
        usleep(300_000)
        #expect(ProcessTable.state(of: pid) == "T")
        #expect(monitord.count("exited") == 0 && monitord.count("killed") == 0, "\(monitord.log)")
        #expect(scratch.lines("starts").count == 1)

        // Continued from outside: still the same child, still supervised.
        kill(pid, SIGCONT)
        #expect(eventually { scratch.lines("got").contains("continued") })
        kill(pid, SIGSTOP)
        #expect(eventually { ProcessTable.state(of: pid) == "T" })

        let clock = ContinuousClock()
        let start = clock.now
        monitord.signal(SIGTERM)
        #expect(monitord.wait(timeout: .seconds(40)) == .exited(0))
        #expect(clock.now - start < .seconds(10), "a stopped child must not wait out the 30 s stop timeout")
        #expect(scratch.lines("got").contains("TERM"), "the child handled SIGTERM")
        #expect(monitord.log.contains("stopped: stopper.sh (pid \(pid)) exited 0"), "\(monitord.log)")
        #expect(scratch.lines("starts").count == 1)
    }

    // MARK: Signal storms

    /// 10,000 SIGUSR1 in a burst: standard signals coalesce, so the child
    /// gets at least one; monitord neither crashes nor restarts the child, and
    /// still stops on SIGTERM.
    @Test func aStormOfTenThousandSignalsIsSurvived() throws {
        let scratch = Scratch()
        let child = scratch.idlingScript("handler.sh", traps: """
        trap 'echo USR1 >> "\(scratch.file("got"))"' USR1
        """)
        let monitord = try Monitord(["-v", child], scratch: scratch)
        #expect(scratch.waitUntilReady())
        let pid = try #require(monitord.firstStartedPID())
        for _ in 0..<10_000 { kill(monitord.pid, SIGUSR1) }
        #expect(eventually { scratch.lines("got").contains("USR1") }, "the child got none")
        #expect(monitord.waitForLog("forwarded SIGUSR1"))
        let forwarded = monitord.count("forwarded SIGUSR1")
        #expect(forwarded >= 1 && forwarded <= 10_000)
        #expect(monitord.wait(timeout: .zero) == nil)
        #expect(ProcessTable.isAlive(pid))
        #expect(monitord.count("started ") == 1, "the child was not restarted")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(!ProcessTable.isAlive(pid))
    }

    /// Real-time signals do not coalesce: every one of a burst is forwarded.
    @Test(.notEmulated(.realTimeSignals)) func everyQueuedRealTimeSignalIsForwarded() throws {
        let scratch = Scratch()
        let child = scratch.idlingScript("rt.sh", traps: """
        trap ':' RTMIN+1
        """)
        // bash knows RT signal names; dash does not.
        let bashChild = scratch.script("rt-bash.sh", "exec /bin/bash \"\(child)\"")
        let monitord = try Monitord(["-v", bashChild], scratch: scratch)
        #expect(scratch.waitUntilReady())
        let pid = try #require(monitord.firstStartedPID())
        let rt = ksh_sigrtmin() + 1
        let burst = 1000
        var sent = 0
        for _ in 0..<burst where kill(monitord.pid, rt) == 0 { sent += 1 }
        #expect(sent == burst)
        #expect(monitord.waitForLog("forwarded SIGRTMIN+1", count: burst, timeout: .seconds(20)), "\(monitord.count("forwarded SIGRTMIN+1")) forwarded")
        #expect(monitord.count("forwarded SIGRTMIN+1") == burst)
        #expect(ProcessTable.isAlive(pid))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    // MARK: A stop in every state

    enum State: String, CaseIterable, Sendable {
        case running, backingOff, probing, waitingForDevice, stopping
    }

    @Test(.needsTestPlugin, arguments: State.allCases)
    func termInEveryStateExitsZero(state: State) throws {
        let scratch = Scratch()
        let card = FakeSoundCard(scratch, devices: ["lb74c"])
        let gate = ["--snd-dir", card.soundDirectory, "--alsa-device", "lb74c", "--stale-after", "1000"]
        let player = GateTests.player(scratch)
        let monitord: Monitord
        switch state {
        case .running:
            monitord = try Monitord(["sleep", "1000"], scratch: scratch)
            #expect(monitord.waitForLog("started sleep"))
        case .backingOff:
            monitord = try Monitord(["--backoff-initial", "1m", "--backoff-max", "1m", "sh", "-c", "exit 3"], scratch: scratch)
            #expect(monitord.waitForLog("restarting in 1m00s"))
        case .probing:
            card.set("lb74c", "never-ready")
            monitord = try Monitord(gate + ["--probe-duration", "20s", player], scratch: scratch, environment: card.environment)
            #expect(eventually { card.isHeld(card: 0) })
        case .waitingForDevice:
            card.set("lb74c", "fail-open EBUSY")
            monitord = try Monitord(gate + ["--probe-interval", "10m", player], scratch: scratch, environment: card.environment)
            #expect(monitord.waitForLog("is not available"))
        case .stopping:
            let stubborn = scratch.idlingScript("stubborn.sh", traps: """
            trap '' TERM
            """)
            monitord = try Monitord(["--stop-timeout", "60s", stubborn], scratch: scratch)
            #expect(scratch.waitUntilReady())
            monitord.signal(SIGTERM)
            #expect(monitord.waitForLog("received SIGTERM: stopping"))
        }
        let children = monitord.startedPIDs
        let clock = ContinuousClock()
        let start = clock.now
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0), "\(monitord.log)")
        #expect(clock.now - start < .seconds(5))
        for child in children { #expect(!ProcessTable.isAlive(child)) }
        #expect(!card.isHeld(card: 0), "no PCM left open")
        if state == .stopping { #expect(monitord.log.contains("received SIGTERM again: killing")) }
    }

    /// "Starting" lasts only the synchronous spawn, so aim bursts of stop
    /// signals at crash loops (zero and 1 ms backoff) at varying moments:
    /// whatever state each burst lands in, monitord exits 0, leaves no child
    /// and logs exactly one stop.
    @Test(.timeLimit(.minutes(2)))
    func stopBurstsAroundACrashLoopAlwaysExitZero() throws {
        let scratch = Scratch()
        for round in 0..<24 {
            let backoff = round % 2 == 0 ? "0" : "1ms"
            let monitord = try Monitord(["--backoff-initial", backoff, "--backoff-max", backoff, "/bin/false"],
                                        scratch: scratch, logName: "round\(round).log")
            // Wait for a varying number of exits (the first line, then folding).
            let exits = 1 + round % 4
            #expect(monitord.waitForLog("false", count: exits))
            usleep(UInt32(round * 700))
            for _ in 0..<(1 + round % 3 * 20) { monitord.signal(round % 5 == 4 ? SIGINT : SIGTERM) }
            let ended = monitord.wait()
            #expect(ended == .exited(0), "round \(round): \(String(describing: ended))\n\(monitord.log)")
            let stops = monitord.logLines.filter { $0.contains("received SIG") && ($0.contains(": stopping") || $0.contains("no child running")) }
            #expect(stops.count == 1, "round \(round): \(monitord.log)")
            #expect(ProcessTable.children(of: monitord.pid).isEmpty)
            for child in monitord.startedPIDs { #expect(!ProcessTable.isAlive(child) || ProcessTable.parent(of: child) != monitord.pid) }
        }
    }

    // MARK: A broken stderr

    /// monitord started with stderr closed (`2>&-`): it keeps supervising.
    @Test func closedStderrDoesNotStopSupervision() throws {
        let scratch = Scratch()
        let child = Self.failingChild(scratch)
        let statusPath = scratch.file("status")
        let monitord = try Launched(["/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&-", Products.monitord, "--status-file", statusPath]
                                    + Self.fastBackoff + [child], scratch: scratch)
        #expect(eventually { scratch.lines("starts").count >= 4 })
        #expect(monitord.isRunning)
        #expect(Int(statusFields(statusPath)["restarts"] ?? "") ?? 0 >= 3)
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(statusFields(statusPath)["state"] == "stopped")
    }

    /// stderr is a pipe whose reader goes away: monitord's writes fail with
    /// EPIPE (SIGPIPE is ignored) and it keeps supervising.
    @Test func brokenPipeOnStderrDoesNotStopSupervision() throws {
        let scratch = Scratch()
        let child = Self.failingChild(scratch)
        let fifo = scratch.file("stderr.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let reader = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        #expect(reader >= 0)
        let monitord = try Launched([Products.monitord] + Self.fastBackoff + [child], scratch: scratch, stderr: fifo)
        // The reader sees monitord's first line, then leaves.
        var buffer = [UInt8](repeating: 0, count: 4096)
        var firstLines = ""
        #expect(eventually {
            let count = read(reader, &buffer, buffer.count)
            if count > 0 { firstLines += String(decoding: buffer[0..<count], as: UTF8.self) }
            return firstLines.contains("started child.sh")
        })
        close(reader)
        let startsAtBreak = scratch.lines("starts").count
        #expect(eventually { scratch.lines("starts").count >= startsAtBreak + 3 }, "no restarts after the pipe broke")
        #expect(monitord.isRunning)
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }
}

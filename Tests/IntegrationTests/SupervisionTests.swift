import Foundation
import Glibc
import Testing
import TestSupport

/// The drop-in contract, on the real binary with real processes and signals.
/// Durations are scaled down through the options; assertions use orderings
/// and generous bounds, never tight windows.
@Suite struct SupervisionTests {
    /// A child that records each start time (monotonic ns) and fails.
    static func stampingChild(_ scratch: Scratch, exitCode: Int = 1, extra: String = "") -> String {
        scratch.script("child.sh", """
        awk '{ print $1 }' /proc/uptime >> "\(scratch.file("starts"))"
        \(extra)
        exit \(exitCode)
        """)
    }

    @Test func crashLoopFollowsTheBackoffAndResetsAfterAHealthyRun() throws {
        let scratch = Scratch()
        // The 6th start survives the reset window (1 s), then fails again.
        let child = scratch.script("child.sh", """
        echo x >> "\(scratch.file("count"))"
        n=$(wc -l < "\(scratch.file("count"))")
        date +%s%N >> "\(scratch.file("starts"))"
        if [ "$n" -eq 6 ]; then sleep 1.3; fi
        exit 1
        """)
        let monitord = try Monitord(["--backoff-initial", "100ms", "--backoff-max", "400ms", "--backoff-reset", "1s",
                                     child], scratch: scratch)
        #expect(eventually(timeout: .seconds(30)) { scratch.lines("starts").count >= 9 })
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        let starts = scratch.lines("starts").compactMap { Int64($0) }
        try #require(starts.count >= 9, "only \(starts.count) starts:\n\(monitord.log)")
        let gaps = zip(starts.dropFirst(), starts).map { Double($0 - $1) / 1e6 }  // ms
        // Start-to-start gap = run time + delay, so each gap is at least the delay.
        let delays: [Double] = [100, 200, 400, 400, 400]
        for (gap, delay) in zip(gaps, delays) {
            #expect(gap >= delay - 5, "gap \(gap) ms shorter than the \(delay) ms backoff")
            #expect(gap < delay + 3000, "gap \(gap) ms far longer than the \(delay) ms backoff")
        }
        // The 6th run lasted 1.3 s: restarted at once (gap = run time, no delay)...
        #expect(gaps[5] >= 1300 && gaps[5] < 1300 + 2000)
        // ...and the count started again: 100 ms, then 200 ms.
        #expect(gaps[6] >= 95 && gaps[6] < 2000)
        #expect(gaps[7] >= 195)
        #expect(monitord.log.contains("restarting now (a healthy run resets the backoff)"))
        #expect(monitord.log.contains("restarting in 100 ms (failure 1)"))
        #expect(monitord.log.contains("restarting in 400 ms (failure 3)"))
    }

    @Test func exitZeroEndsSupervisionWithZero() throws {
        let scratch = Scratch()
        let monitord = try Monitord(["--", "sh", "-c", "exit 0"], scratch: scratch)
        #expect(monitord.wait() == .exited(0))
        #expect(monitord.count("exited 0") == 1)
        #expect(monitord.count("started sh") == 1)
    }

    /// squeezelite exits 0 when it cannot open its output: under
    /// `--restart always` that is restarted through the backoff, the log and
    /// the status file say why, and only a stop signal ends supervision.
    @Test func restartAlwaysRestartsExitZeroWithBackoff() throws {
        let scratch = Scratch()
        let status = scratch.file("status")
        let child = scratch.script("player.sh", """
        echo x >> "\(scratch.file("starts"))"
        exit 0
        """)
        let monitord = try Monitord(["--restart", "always", "--backoff-initial", "100ms", "--backoff-max", "400ms",
                                     "--status-file", status, child], scratch: scratch)
        #expect(eventually { scratch.lines("starts").count >= 4 }, "\(monitord.log)")
        #expect(monitord.isRunning)
        #expect(monitord.waitForLog("exited 0 after"))
        #expect(monitord.log.contains("; restarting in 100 ms (restart always, failure 1)"), "\(monitord.log)")
        #expect(monitord.log.contains("; restarting in 200 ms (restart always, failure 2)"), "\(monitord.log)")
        #expect(!monitord.log.contains("supervision ends"))
        #expect(eventually { statusFields(status)["last_exit"] == "exit:0" })
        #expect(statusFields(status)["restart"] == "always")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(statusFields(status)["state"] == "stopped")
    }

    @Test func forwardedSignalsReachTheChild() throws {
        let scratch = Scratch()
        let got = scratch.file("got")
        let child = scratch.idlingScript("child.sh", traps: """
        trap 'echo HUP >> "\(got)"' HUP
        trap 'echo USR1 >> "\(got)"' USR1
        trap 'echo USR2 >> "\(got)"' USR2
        """)
        let monitord = try Monitord(["-v", child], scratch: scratch)
        #expect(scratch.waitUntilReady())
        for (signal, name) in [(SIGHUP, "HUP"), (SIGUSR1, "USR1"), (SIGUSR2, "USR2")] {
            monitord.signal(signal)
            #expect(eventually { scratch.lines("got").contains(name) }, "\(name) did not reach the child")
        }
        #expect(scratch.lines("got") == ["HUP", "USR1", "USR2"])
        #expect(monitord.count("forwarded SIGHUP") == 1)
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
    }

    @Test func termStopsTheChildAndLeavesNothingBehind() throws {
        let scratch = Scratch()
        let monitord = try Monitord(["sleep", "1000"], scratch: scratch)
        #expect(monitord.waitForLog("started sleep"))
        let child = try #require(monitord.firstStartedPID())
        #expect(ProcessTable.isAlive(child))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(!ProcessTable.isAlive(child))
        // A member SIGKILLed with its group may not have run to its death yet on a loaded machine.
        #expect(eventually { ProcessTable.groupIsEmpty(child) })
        #expect(monitord.log.contains("stopped: sleep (pid \(child)) was killed by SIGTERM"))
    }

    @Test func aChildIgnoringTermIsKilledAfterTheStopTimeout() throws {
        let scratch = Scratch()
        let child = scratch.idlingScript("stubborn.sh", traps: """
        trap '' TERM
        """)
        let monitord = try Monitord(["--stop-timeout", "300ms", child], scratch: scratch)
        #expect(scratch.waitUntilReady())
        let pid = try #require(monitord.firstStartedPID())
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(!ProcessTable.isAlive(pid))
        // A member SIGKILLed with its group may not have run to its death yet on a loaded machine.
        #expect(eventually { ProcessTable.groupIsEmpty(pid) })
        let log = monitord.log
        let stopping = try #require(log.range(of: "received SIGTERM: stopping"))
        let killed = try #require(log.range(of: "did not stop within 300 ms: sent SIGKILL"))
        let stopped = try #require(log.range(of: "was killed by SIGKILL"))
        #expect(stopping.lowerBound < killed.lowerBound && killed.lowerBound < stopped.lowerBound)
    }

    /// `--stop-timeout 0s` (AmpliPi's stop of vlc and FM radio, which was a
    /// SIGKILL): the group gets SIGKILL in the turn that reads the stop
    /// signal, and no stop signal, whose handler could only run first.
    @Test func aStopWithNoTimeoutIsASigkillAtOnce() throws {
        let scratch = Scratch()
        let child = scratch.idlingScript("child.sh", traps: """
        trap 'echo TERM >> "\(scratch.file("got"))"' TERM
        """)
        let monitord = try Monitord(["--stop-timeout", "0s", child], scratch: scratch)
        #expect(scratch.waitUntilReady())
        let pid = try #require(monitord.firstStartedPID())
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(eventually { ProcessTable.groupIsEmpty(pid) })
        let log = monitord.log
        let killing = try #require(log.range(of: "received SIGTERM: killing child.sh (pid \(pid)) and its process group (stop timeout 0)"))
        let stopped = try #require(log.range(of: "stopped: child.sh (pid \(pid)) was killed by SIGKILL"))
        #expect(killing.lowerBound < stopped.lowerBound)
        #expect(!log.contains("did not stop within"), "\(log)")
        #expect(scratch.read("got").isEmpty, "the child was sent SIGTERM")
    }

    @Test func grandchildrenEndWithTheStop() throws {
        let scratch = Scratch()
        let child = scratch.script("parent.sh", """
        sleep 1000 &
        echo $! > "\(scratch.file("grandchild"))"
        wait
        """)
        let monitord = try Monitord([child], scratch: scratch)
        #expect(eventually { Int32(scratch.read("grandchild").trimmingCharacters(in: .whitespacesAndNewlines)) != nil })
        let grandchild = try #require(Int32(scratch.read("grandchild").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(ProcessTable.isAlive(grandchild))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        #expect(eventually(timeout: .seconds(5)) { !ProcessTable.isAlive(grandchild) })
    }

    @Test func secondStopSignalKillsAtOnce() throws {
        let scratch = Scratch()
        let child = scratch.idlingScript("stubborn.sh", traps: """
        trap '' TERM INT
        """)
        // A long stop timeout: only the second signal can end this quickly.
        let monitord = try Monitord(["--stop-timeout", "60s", child], scratch: scratch)
        #expect(scratch.waitUntilReady())
        monitord.signal(SIGINT)
        #expect(monitord.waitForLog("received SIGINT: stopping"))
        monitord.signal(SIGINT)
        #expect(monitord.wait(timeout: .seconds(10)) == .exited(0))
        #expect(monitord.log.contains("received SIGINT again: killing"))
    }

    @Test func termDuringABackoffWaitExitsPromptly() throws {
        let scratch = Scratch()
        let monitord = try Monitord(["--backoff-initial", "1m", "--backoff-max", "1m", "sh", "-c", "exit 3"],
                                    scratch: scratch)
        #expect(monitord.waitForLog("restarting in 1m00s"))
        let clock = ContinuousClock()
        let start = clock.now
        monitord.signal(SIGTERM)
        #expect(monitord.wait(timeout: .seconds(10)) == .exited(0))
        #expect(clock.now - start < .seconds(5), "a stop during backoff must not wait out the delay")
        #expect(monitord.log.contains("with no child running: exiting"))
    }

    @Test func killingMonitordSendsTheChildSigterm() throws {
        let scratch = Scratch()
        let child = scratch.idlingScript("child.sh", traps: """
        trap 'echo TERM > "\(scratch.file("got"))"; exit 0' TERM
        """)
        let monitord = try Monitord([child], scratch: scratch)
        #expect(scratch.waitUntilReady())
        let pid = try #require(monitord.firstStartedPID())
        monitord.signal(SIGKILL)
        #expect(monitord.wait() == .signaled(SIGKILL))
        #expect(eventually { scratch.read("got").contains("TERM") }, "PR_SET_PDEATHSIG did not fire")
        #expect(eventually { !ProcessTable.isAlive(pid) })
    }

    @Test(.notEmulated(.ownThreads)) func twoHundredFastCrashesLeakNothing() throws {
        let scratch = Scratch()
        let monitord = try Monitord(["-v", "--backoff-initial", "0", "--backoff-max", "0", "/bin/false"], scratch: scratch)
        #expect(monitord.waitForLog("started false", count: 20, timeout: .seconds(30)))
        let descriptorsEarly = monitord.openDescriptors
        var lingering: Set<pid_t> = []
        #expect(eventually(timeout: .seconds(60)) {
            lingering.formUnion(lingeringZombies(of: monitord.pid))
            return monitord.count("started false") >= 200
        })
        #expect(lingering.isEmpty, "zombies left unreaped: \(lingering)")
        #expect(monitord.openDescriptors == descriptorsEarly)
        #expect(monitord.openPidfds <= 1)
        #expect(ProcessTable.status(of: monitord.pid, field: "Threads") == "1")
        monitord.signal(SIGTERM)
        #expect(monitord.wait() != nil)
        #expect(ProcessTable.children(of: monitord.pid).isEmpty)
    }

    @Test func aCrashLoopDoesNotFloodTheLog() throws {
        let scratch = Scratch()
        let monitord = try Monitord(["--backoff-initial", "10ms", "--backoff-max", "20ms", "sh", "-c", "exit 7"],
                                    scratch: scratch)
        // Three folded summaries = 30 restarts at the cap.
        #expect(monitord.waitForLog("exited 7 again", count: 3, timeout: .seconds(60)))
        monitord.signal(SIGTERM)
        #expect(monitord.wait() == .exited(0))
        let restarts = monitord.count("exited 7")
        let lines = monitord.logLines.count
        #expect(monitord.log.contains("exited 7 again (10 times in"))
        // Two lines per restart before the cap, then one line per ten restarts.
        #expect(lines < 20, "\(lines) lines for a crash loop:\n\(monitord.log)")
        #expect(restarts >= 3)
    }
}

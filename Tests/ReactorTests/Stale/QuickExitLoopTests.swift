import Foundation
import Glibc
import Testing
import TestSupport
import Supervision
@testable import Reactor

extension InProcessLoopTests {
    /// The quick-exit rule in the loop, on the fake clock: a leftover that
    /// ignores SIGTERM holds the player's exit back until the stop timeout's
    /// SIGKILL has ended it.
    @Suite struct QuickExits {
        /// Starts `sh -c 'trap "" TERM; ...' sh MARKER` through a shell that
        /// exits at once, so that its parent is not this process (which the
        /// rule never touches: it is the loop's own process here), and
        /// returns its pid once its traps are set.
        static func orphanedLeftover(marker: String, in directory: String) throws -> pid_t? {
            let pidFile = directory + "/leftover.pid"
            let inner = "trap '' TERM; echo \\$\\$ > \(pidFile); while :; do sleep 0.05; done"
            let outer = try spawnProcess(["/bin/sh", "-c", "/bin/sh -c \"\(inner)\" sh \(marker) &"],
                                         environment: ProcessInfo.processInfo.environment,
                                         stdout: "/dev/null", stderr: "/dev/null")
            _ = waitForExit(outer)
            var pid: pid_t?
            _ = eventually {
                pid = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap {
                    pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
                }
                return pid != nil
            }
            return pid
        }

        @Test(.timeLimit(.minutes(1)))
        func aLeftoverThatIgnoresSigtermHoldsTheExitUntilSigkill() throws {
            let directory = TemporaryFiles.makeDirectory("quick-exit")
            defer { TemporaryFiles.remove(directory) }
            let marker = "quick-exit-leftover-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            let leftover = try #require(try Self.orphanedLeftover(marker: marker, in: directory))
            guard let pinned = try PinnedProcess.pin(leftover) else {
                Issue.record("the leftover (pid \(leftover)) is gone already")
                return
            }
            defer { _ = try? pinned.signal(SIGKILL) }
            let settings = QuickExitSettings(threshold: 1, reset: .seconds(10), stopTimeout: .seconds(3),
                                             killGrace: .seconds(1), restart: .onFailure, commandBaseName: "sh",
                                             commandPath: "/bin/sh", staleMatch: [marker], scriptCandidate: nil)
            let rig = try Rig("exit 1", configuration: SupervisionConfiguration(stopTimeout: .seconds(3)),
                              quickExits: settings)
            let reaper = try #require(rig.loop.quickExits)
            rig.loop.start()
            // The first quick exit finds the leftover: SIGTERM, and the exit is held.
            #expect(rig.turn { reaper.deadline != nil }, "\(rig.log)")
            #expect(reaper.deadline == rig.clock.now + .seconds(3))
            #expect(rig.loop.earliestDeadline == rig.clock.now + .seconds(3), "on the loop's one timer")
            for _ in 0..<5 { rig.loop.turn(timeoutMilliseconds: 10) }
            #expect(InProcessLoopTests.isRunning(rig.loop.table.phase), "no restart while the leftover lives")
            #expect(rig.loop.table.consecutiveFailures == 0, "the table has not seen the exit yet")
            #expect(rig.log.contains("ending leftover pid \(leftover) ("), "\(rig.log)")
            // The stop timeout passes on the fake clock: SIGKILL, then the exit goes on.
            rig.advance(.milliseconds(2999))
            #expect(!rig.log.contains("sent SIGKILL"), "not before the stop timeout")
            rig.advance(.milliseconds(1))
            #expect(rig.turn { InProcessLoopTests.isBackingOff(rig.loop.table.phase) }, "\(rig.log)")
            #expect(rig.loop.table.consecutiveFailures == 1)
            #expect(reaper.deadline == nil)
            #expect(rig.log.contains("leftover pid \(leftover) ignored SIGTERM for 3 s: sent SIGKILL"), "\(rig.log)")
            #expect(rig.log.contains("leftover pid \(leftover) has exited; sh may start"), "\(rig.log)")
            let lines = rig.log.split(separator: "\n")
            let gone = try #require(lines.firstIndex { $0.contains("has exited; sh may start") })
            let exit = try #require(lines.firstIndex { $0.contains("exited 1 after") })
            #expect(gone < exit, "the exit reached the table after the leftover was gone: \(rig.log)")
            #expect(rig.stop() == 0)
        }
    }
}

import Foundation
import Glibc
import Testing
import TestSupport
import Supervision
@testable import Reactor

/// The loop itself, in this process: real children, pidfds and epoll, but a
/// fake clock that only the test moves. Deadlines are passed by advancing
/// the clock and telling the loop (as the timer would), so backoffs, stop
/// timeouts and the watchdog take microseconds, not seconds. Serialized,
/// with the suites nested in it: loops run side by side in one process
/// take each other's children for their own.
@Suite(.serialized) struct InProcessLoopTests {
    /// The fake clock, shared by reference with the loop's clock closure.
    final class Clock: @unchecked Sendable {
        var fake = FakeClock()
        var now: MonotonicInstant { fake.now }
        func advance(_ duration: Duration) { fake.advance(duration) }
    }

    /// A loop over `sh -c SCRIPT` whose log goes to a file of its own.
    final class Rig {
        let clock = Clock()
        let directory = TemporaryFiles.makeDirectory("loop")
        let logFD: Int32
        let loop: SupervisionLoop
        /// The loop's signalfd blocks the forwarded signals on this thread:
        /// the test's thread gets its mask back, or processes it starts
        /// later would inherit the block.
        private var savedMask = sigset_t()

        init(_ script: String, configuration: SupervisionConfiguration = SupervisionConfiguration(), hooks: LoopHooks = LoopHooks(),
             gate: (any GateDriver)? = nil, quickExits: QuickExitSettings? = nil) throws {
            pthread_sigmask(SIG_SETMASK, nil, &savedMask)
            logFD = open(directory + "/log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            precondition(logFD >= 0)
            let logger = Logger(threshold: .debug, journal: false, fd: logFD)
            let clock = clock
            loop = try SupervisionLoop(command: PreparedCommand(["/bin/sh", "-c", script]), configuration: configuration,
                                       gate: gate, quickExits: quickExits, logger: logger, hooks: hooks, clock: { clock.now },
                                       spawnHandlersBlocked: false)
        }

        deinit {
            pthread_sigmask(SIG_SETMASK, &savedMask, nil)
            close(logFD)
            TemporaryFiles.remove(directory)
        }

        var log: String { (try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? "" }

        /// Turns the loop until `condition` holds (real time: children run for real).
        @discardableResult
        func turn(until condition: () -> Bool) -> Bool {
            let end = ContinuousClock.now + .seconds(10)
            while !condition() {
                if ContinuousClock.now > end { return false }
                loop.turn(timeoutMilliseconds: 20)
            }
            return true
        }

        /// Moves the fake clock on and lets the tables whose deadline came act.
        func advance(_ duration: Duration) {
            clock.advance(duration)
            loop.deadlinesPassed(at: clock.now)
        }

        /// Stops supervision with SIGTERM and returns the exit code.
        func stop() -> Int32 {
            loop.submit(.signal(SIGTERM), at: clock.now)
            turn { loop.exitCode != nil }
            return loop.finish()
        }
    }

    static func isRunning(_ phase: SupervisionPhase) -> Bool {
        if case .running = phase { return true }
        return false
    }

    static func isBackingOff(_ phase: SupervisionPhase) -> Bool {
        if case .backingOff = phase { return true }
        return false
    }

    @Test func aCrashIsRestartedWhenTheBackoffsDeadlineComesOnTheFakeClock() throws {
        let rig = try Rig("exit 3")
        rig.loop.start()
        #expect(Self.isRunning(rig.loop.table.phase))
        #expect(rig.turn { Self.isBackingOff(rig.loop.table.phase) }, "\(rig.log)")
        // The standard backoff: 2 s after the first failure, on the one timer.
        #expect(rig.loop.tableDeadline == rig.clock.now + .seconds(2))
        #expect(rig.loop.earliestDeadline == rig.clock.now + .seconds(2))
        rig.advance(.milliseconds(1999))
        #expect(Self.isBackingOff(rig.loop.table.phase), "not before the deadline")
        rig.advance(.milliseconds(1))
        #expect(Self.isRunning(rig.loop.table.phase))
        #expect(rig.loop.table.restarts == 1)
        #expect(rig.turn { Self.isBackingOff(rig.loop.table.phase) })
        #expect(rig.loop.tableDeadline == rig.clock.now + .seconds(4), "the second failure doubles the delay")
        #expect(rig.stop() == 0)
        #expect(rig.log.contains("restarting in 2 s (failure 1)"), "\(rig.log)")
        #expect(rig.log.contains("restarting in 4 s (failure 2)"), "\(rig.log)")
    }

    @Test func aHealthyChildArmsNoDeadlineAndAStopEndsIt() throws {
        let rig = try Rig("exec sleep 100")
        rig.loop.start()
        rig.loop.turn(timeoutMilliseconds: 0)
        #expect(Self.isRunning(rig.loop.table.phase))
        #expect(rig.loop.earliestDeadline == nil, "zero wakeups while the child is healthy")
        #expect(rig.loop.armedDeadline == nil)
        #expect(rig.stop() == 0)
        #expect(rig.log.contains("stopped: sh"), "\(rig.log)")
    }

    @Test func leftoversInThePlayersGroupHoldTheRestartBackUntilKilledOnTheFakeClock() throws {
        let scratch = TemporaryFiles.makeDirectory("loop-ready")
        defer { TemporaryFiles.remove(scratch) }
        let ready = scratch + "/ready"
        let rig = try Rig("""
            sh -c 'trap "" TERM; touch \(ready); exec sleep 100' &
            while [ ! -e \(ready) ]; do sleep 0.01; done
            exit 1
            """, configuration: SupervisionConfiguration(stopTimeout: .seconds(3), killGrace: .seconds(1)))
        rig.loop.start()
        // The player exits; its member ignores SIGTERM: the exit is held back.
        #expect(rig.turn { rig.loop.leftovers.deadline != nil }, "\(rig.log)")
        #expect(rig.loop.leftovers.deadline == rig.clock.now + .seconds(3))
        for _ in 0..<5 { rig.loop.turn(timeoutMilliseconds: 10) }
        #expect(Self.isRunning(rig.loop.table.phase), "no restart while the group lives")
        #expect(rig.log.contains("left a process in its group"), "\(rig.log)")
        // The stop timeout passes on the fake clock: SIGKILL, then the exit goes on.
        rig.advance(.seconds(3))
        #expect(rig.turn { Self.isBackingOff(rig.loop.table.phase) }, "\(rig.log)")
        #expect(rig.loop.leftovers.deadline == nil)
        #expect(rig.log.contains("ignored SIGTERM for 3 s: sent SIGKILL"), "\(rig.log)")
        #expect(rig.stop() == 0)
    }

    @Test func theWatchdogPingsOnTheOneTimerEveryInterval() throws {
        final class Pings: @unchecked Sendable { var count = 0 }
        let pings = Pings()
        var hooks = LoopHooks()
        hooks.watchdogInterval = .seconds(5)
        hooks.watchdogPing = { pings.count += 1 }
        let rig = try Rig("exec sleep 100", hooks: hooks)
        rig.loop.start()
        rig.loop.turn(timeoutMilliseconds: 0)
        #expect(rig.loop.earliestDeadline == rig.clock.now + .seconds(5))
        rig.advance(.seconds(5))
        #expect(pings.count == 1)
        rig.advance(.seconds(4))
        #expect(pings.count == 1)
        rig.advance(.seconds(1))
        #expect(pings.count == 2)
        #expect(rig.stop() == 0)
    }
}

import Glibc
import Testing
import TestSupport
@testable import Supervision

/// Every phase × event pair of the transition table, written out: the
/// expected phase afterwards and the exact actions, in order.
@Suite struct SupervisionTableTests {
    enum Phase: CaseIterable { case idle, starting, running, backingOff, stopping, killing, finished, probing, waiting }
    enum Event: CaseIterable { case start, spawned, execFailed, cloneFailed, exitFailure, exitSuccess, deadline, stop, hup, probeOK, probeFail, released }

    static let t0 = MonotonicInstant(nanoseconds: 1_000_000_000_000)
    static let pid: Int32 = 100
    static let ungated = SupervisionConfiguration(backoff: .standard, stopTimeout: .seconds(3), killGrace: .seconds(1))
    // A fixed 2 s between probes (retry = interval): the growing schedule
    // has tests of its own below.
    /// The schedule on its own: a holder grace that never ends in these tests
    /// (HolderGraceTests covers the probe that comes when it does).
    static let gate = GateTiming(probeDuration: .seconds(1), probeRetry: .seconds(2), probeInterval: .seconds(2), staleAfter: 4,
                                 holderGrace: .seconds(3600))
    static let gated = SupervisionConfiguration(backoff: .standard, stopTimeout: .seconds(3), killGrace: .seconds(1), gate: gate)
    static let busy = ProbeFailure(stage: .open, errno: EBUSY)

    static func event(_ event: Event) -> SupervisionEvent {
        switch event {
        case .start: return .start
        case .spawned: return .spawned(pid: pid)
        case .execFailed: return .spawnFailed(SpawnFailure(stage: .exec, errno: ENOENT))
        case .cloneFailed: return .spawnFailed(SpawnFailure(stage: .clone, errno: EAGAIN))
        case .exitFailure: return .childExited(.exited(1))
        case .exitSuccess: return .childExited(.exited(0))
        case .deadline: return .deadline
        case .stop: return .signal(SIGTERM)
        case .hup: return .signal(SIGHUP)
        case .probeOK: return .probeSucceeded
        case .probeFail: return .probeFailed(busy)
        case .released: return .deviceMayBeFree
        }
    }

    /// Drives a fresh machine into `phase` (all at t0).
    static func machine(in phase: Phase, restart: RestartPolicy = .onFailure) -> SupervisionTable {
        let gatedPhase = phase == .probing || phase == .waiting
        var configuration = gatedPhase ? gated : ungated
        configuration.restart = restart
        var machine = SupervisionTable(configuration: configuration)
        let steps: [SupervisionEvent]
        switch phase {
        case .idle: steps = []
        case .starting: steps = [.start]
        case .running: steps = [.start, .spawned(pid: pid)]
        case .backingOff: steps = [.start, .spawned(pid: pid), .childExited(.exited(1))]
        case .stopping: steps = [.start, .spawned(pid: pid), .signal(SIGTERM)]
        case .killing: steps = [.start, .spawned(pid: pid), .signal(SIGTERM), .deadline]
        case .finished where restart == .always: steps = [.start, .spawned(pid: pid), .signal(SIGTERM), .childExited(.exited(0))]
        case .finished: steps = [.start, .spawned(pid: pid), .childExited(.exited(0))]
        case .probing: steps = [.start]
        case .waiting: steps = [.start, .probeFailed(busy)]
        }
        for step in steps { _ = machine.handle(step, at: t0) }
        return machine
    }

    /// The table. `nil` phase means "unchanged".
    static func expected(_ phase: Phase, _ event: Event, restart: RestartPolicy = .onFailure) -> (SupervisionPhase?, [SupervisionAction]) {
        let now = t0 + .seconds(5)
        // `--restart always` changes one cell: an exit 0 is a (fast) failure.
        if restart == .always, phase == .running, event == .exitSuccess {
            return (.backingOff(until: now + .seconds(2)),
                    [.log(.exited(pid: pid, status: .exited(0), runTime: .seconds(5), next: .after(.seconds(2), failure: 1))),
                     .armDeadline(.seconds(2))])
        }
        let stopWhileWaiting = SupervisionAction.log(.stopWhileWaiting(signal: SIGTERM))
        let stopping = SupervisionAction.notify(.stopping)
        let dropped = { (signal: Int32) in SupervisionAction.log(.dropped(signal: signal)) }
        switch (phase, event) {
        // idle: only start and stop signals mean anything.
        // READY=1 at supervision start, whatever the gate will find.
        case (.idle, .start): return (.starting, [.notify(.ready), .spawn])
        case (.idle, .stop): return (.finished(exitCode: 0), [stopping, stopWhileWaiting, .exit(0)])
        case (.idle, .hup): return (nil, [dropped(SIGHUP)])
        case (.idle, _): return (nil, [])

        // starting: the reactor answers the spawn before anything else.
        case (.starting, .spawned):
            return (.running(pid: pid, since: now), [.log(.started(pid: pid, restart: 0, quiet: false))])
        case (.starting, .execFailed):
            return (.finished(exitCode: 127), [.log(.cannotExecute(SpawnFailure(stage: .exec, errno: ENOENT))), .exit(127)])
        case (.starting, .cloneFailed):
            return (.backingOff(until: now + .seconds(2)),
                    [.log(.spawnFailed(SpawnFailure(stage: .clone, errno: EAGAIN), next: .after(.seconds(2), failure: 1))),
                     .armDeadline(.seconds(2))])
        case (.starting, _): return (nil, [])

        // running since t0, event at t0+5s (a fast failure).
        case (.running, .exitFailure):
            return (.backingOff(until: now + .seconds(2)),
                    [.log(.exited(pid: pid, status: .exited(1), runTime: .seconds(5), next: .after(.seconds(2), failure: 1))),
                     .armDeadline(.seconds(2))])
        case (.running, .exitSuccess):
            return (.finished(exitCode: 0), [.log(.finishedCleanly(pid: pid, runTime: .seconds(5))), .exit(0)])
        case (.running, .stop):
            return (.stopping(pid: pid), [.signalGroup(SIGTERM), .signalGroup(SIGCONT), .endDeviceWatch,
                                          .log(.stopping(signal: SIGTERM, pid: pid)), .notify(.stopping), .armDeadline(.seconds(3))])
        case (.running, .hup): return (nil, [.log(.forwarded(signal: SIGHUP, pid: pid)), .signalChild(SIGHUP)])
        case (.running, _): return (nil, [])

        case (.backingOff, .deadline): return (.starting, [.spawn])
        case (.backingOff, .stop): return (.finished(exitCode: 0), [.cancelDeadline, stopping, stopWhileWaiting, .exit(0)])
        case (.backingOff, .hup): return (nil, [dropped(SIGHUP)])
        case (.backingOff, _): return (nil, [])

        case (.stopping, .exitFailure):
            return (.finished(exitCode: 0), [.cancelDeadline, .log(.stopped(pid: pid, status: .exited(1))), .exit(0)])
        case (.stopping, .exitSuccess):
            return (.finished(exitCode: 0), [.cancelDeadline, .log(.stopped(pid: pid, status: .exited(0))), .exit(0)])
        case (.stopping, .deadline):
            return (.killing(pid: pid), [.log(.killedAfterTimeout(pid: pid, timeout: .seconds(3))), .killGroup, .armDeadline(.seconds(1))])
        case (.stopping, .stop):
            return (.killing(pid: pid), [.log(.hurrying(signal: SIGTERM, pid: pid)), .killGroup, .armDeadline(.seconds(1))])
        case (.stopping, .hup): return (nil, [.log(.forwarded(signal: SIGHUP, pid: pid)), .signalChild(SIGHUP)])
        case (.stopping, _): return (nil, [])

        case (.killing, .exitFailure):
            return (.finished(exitCode: 0), [.cancelDeadline, .log(.stopped(pid: pid, status: .exited(1))), .exit(0)])
        case (.killing, .exitSuccess):
            return (.finished(exitCode: 0), [.cancelDeadline, .log(.stopped(pid: pid, status: .exited(0))), .exit(0)])
        case (.killing, .deadline): return (.finished(exitCode: 0), [.log(.unkillable(pid: pid)), .exit(0)])
        case (.killing, .stop): return (nil, [dropped(SIGTERM)])
        case (.killing, .hup): return (nil, [dropped(SIGHUP)])
        case (.killing, _): return (nil, [])

        case (.finished, _): return (nil, [])

        // The gate (gated configuration).
        case (.probing, .probeOK): return (.starting, [.cancelDeadline, .spawn])
        case (.probing, .probeFail):
            return (.waitingForDevice, [.cancelDeadline, .log(.deviceUnavailable(busy)), .reportHolders, .armDeadline(.seconds(2))])
        case (.probing, .deadline):
            let timeout = ProbeFailure(stage: .timeout, errno: ETIMEDOUT)
            return (.waitingForDevice, [.abortProbe, .log(.deviceUnavailable(timeout)), .reportHolders, .armDeadline(.seconds(2))])
        case (.probing, .stop): return (.finished(exitCode: 0), [.abortProbe, .cancelDeadline, stopping, stopWhileWaiting, .exit(0)])
        case (.probing, .hup): return (nil, [dropped(SIGHUP)])
        case (.probing, _): return (nil, [])

        case (.waiting, .deadline): return (.probing, [.startProbe, .armDeadline(gate.probeDeadline)])
        // The last probe began at t0, more than the retry before: probe at once.
        case (.waiting, .released): return (.probing, [.startProbe, .armDeadline(gate.probeDeadline)])
        case (.waiting, .stop): return (.finished(exitCode: 0), [.cancelDeadline, stopping, stopWhileWaiting, .exit(0)])
        case (.waiting, .hup): return (nil, [dropped(SIGHUP)])
        case (.waiting, _): return (nil, [])
        }
    }

    @Test(arguments: Phase.allCases, Event.allCases)
    func transition(phase: Phase, event: Event) {
        var machine = Self.machine(in: phase)
        let before = machine.phase
        let actions = machine.handle(Self.event(event), at: Self.t0 + .seconds(5))
        let (expectedPhase, expectedActions) = Self.expected(phase, event)
        #expect(machine.phase == (expectedPhase ?? before), "phase after \(event) in \(phase)")
        #expect(actions == SupervisionActions(expectedActions), "actions for \(event) in \(phase)")
    }

    @Test(arguments: Phase.allCases, Event.allCases)
    func transitionUnderRestartAlways(phase: Phase, event: Event) {
        var machine = Self.machine(in: phase, restart: .always)
        let before = machine.phase
        let actions = machine.handle(Self.event(event), at: Self.t0 + .seconds(5))
        let (expectedPhase, expectedActions) = Self.expected(phase, event, restart: .always)
        #expect(machine.phase == (expectedPhase ?? before), "phase after \(event) in \(phase)")
        #expect(actions == SupervisionActions(expectedActions), "actions for \(event) in \(phase)")
    }

    /// `--stop-timeout 0`: the stop is a SIGKILL to the group in the same
    /// turn (no stop signal, no timer turn before it), then the kill grace.
    @Test func aStopWithNoTimeoutKillsTheGroupAtOnce() {
        var configuration = Self.ungated
        configuration.stopTimeout = .zero
        var machine = SupervisionTable(configuration: configuration)
        _ = machine.handle(.start, at: Self.t0)
        _ = machine.handle(.spawned(pid: Self.pid), at: Self.t0)
        #expect(machine.handle(.signal(SIGTERM), at: Self.t0 + .seconds(5))
                == SupervisionActions([.killGroup, .endDeviceWatch, .log(.stopping(signal: SIGTERM, pid: Self.pid)), .notify(.stopping),
                                       .armDeadline(.seconds(1))]))
        #expect(machine.phase == .killing(pid: Self.pid))
        #expect(machine.handle(.childExited(.signaled(SIGKILL, coreDumped: false)), at: Self.t0 + .seconds(5))
                == SupervisionActions([.cancelDeadline, .log(.stopped(pid: Self.pid, status: .signaled(SIGKILL, coreDumped: false))),
                                       .exit(0)]))
        #expect(machine.phase == .finished(exitCode: 0))
    }

    /// Ready before the first probe: a held or absent device never holds the
    /// service manager's start job; STATUS= carries the wait instead.
    @Test func gatedStartIsReadyThenProbes() {
        var machine = SupervisionTable(configuration: Self.gated)
        #expect(machine.handle(.start, at: Self.t0)
                == SupervisionActions([.notify(.ready), .startProbe, .armDeadline(Self.gate.probeDeadline)]))
        #expect(machine.phase == .probing)
    }

    @Test func gatedBackoffComesBeforeTheProbe() {
        var machine = SupervisionTable(configuration: Self.gated)
        _ = machine.handle(.start, at: Self.t0)
        _ = machine.handle(.probeSucceeded, at: Self.t0)
        _ = machine.handle(.spawned(pid: 7), at: Self.t0)
        let exit = machine.handle(.childExited(.exited(1)), at: Self.t0 + .seconds(1))
        #expect(exit.contains(.armDeadline(.seconds(2))))
        #expect(machine.phase == .backingOff(until: Self.t0 + .seconds(3)))
        let afterWait = machine.handle(.deadline, at: Self.t0 + .seconds(3))
        #expect(afterWait == SupervisionActions([.startProbe, .armDeadline(Self.gate.probeDeadline)]))
    }

    // MARK: The gate's retry schedule and releases

    static let growing = SupervisionConfiguration(gate: GateTiming(
        probeDuration: .milliseconds(50), probeRetry: .milliseconds(50), probeInterval: .seconds(4), staleAfter: 20,
        holderGrace: .seconds(3600)))

    /// Starts `machine` and fails probes for 30 s of its time, so the wait
    /// has grown to the interval; returns the time of the last deadline.
    static func failUntilTheWaitHasGrown(_ machine: inout SupervisionTable) throws -> MonotonicInstant {
        var clock = FakeClock(at: t0)
        _ = machine.handle(.start, at: clock.now)
        while clock.now - t0 < .seconds(30) {
            try clock.advance(#require(armed(machine.handle(.probeFailed(busy), at: clock.now))))
            _ = machine.handle(.deadline, at: clock.now)
        }
        return clock.now
    }

    static func armed(_ actions: SupervisionActions) -> Duration? {
        actions.compactMap { if case .armDeadline(let d) = $0 { return d } else { return nil } }.last
    }

    @Test func waitsStartAtTheRetryAndGrowWithTheTimeWaitedUpToTheInterval() throws {
        var machine = SupervisionTable(configuration: Self.growing)
        var clock = FakeClock(at: Self.t0)
        _ = machine.handle(.start, at: clock.now)
        var waits: [Duration] = []
        var waited: [Duration] = []
        while clock.now - Self.t0 < .seconds(60) {
            let wait = try #require(Self.armed(machine.handle(.probeFailed(Self.busy), at: clock.now)))
            waits.append(wait)
            waited.append(clock.now - Self.t0)
            #expect(machine.phase == .waitingForDevice)
            clock.advance(wait)
            #expect(machine.handle(.deadline, at: clock.now) == SupervisionActions([.startProbe, .armDeadline(.milliseconds(1100))]))
        }
        #expect(waits.first == .milliseconds(50))
        // Never shorter than the retry, never longer than the interval, a
        // quarter of the wait so far in between; never shrinking.
        for (wait, sofar) in zip(waits, waited) {
            #expect(wait == min(max(.nanoseconds(sofar.saturatingNanoseconds / 4), .milliseconds(50)), .seconds(4)))
        }
        #expect(zip(waits, waits.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(waits.last == .seconds(4))
        #expect(waits.prefix(4).allSatisfy { $0 == .milliseconds(50) }, "fast retries first: \(waits.prefix(6))")
        // About as many probes in the first minute as a fixed 2 s makes (30).
        #expect(waits.count <= 36, "\(waits.count) probes in the first minute")
    }

    @Test func aReleasedDeviceIsProbedAtOnceButNeverSoonerThanTheRetryAfterTheLastProbe() throws {
        var machine = SupervisionTable(configuration: Self.growing)
        var clock = try FakeClock(at: Self.failUntilTheWaitHasGrown(&machine))
        let lastProbe = clock.now
        #expect(Self.armed(machine.handle(.probeFailed(Self.busy), at: clock.now)) == .seconds(4))
        // 10 ms after that probe began the device is released: the next
        // probe comes 50 ms after the last one, not 4 s later.
        clock.advance(lastProbe + .milliseconds(10) - clock.now)
        #expect(machine.handle(.deviceMayBeFree, at: clock.now) == SupervisionActions([.armDeadline(.milliseconds(40))]))
        #expect(machine.phase == .waitingForDevice)
        // More releases before then change nothing: a probe is due already.
        clock.advance(.milliseconds(20))
        #expect(machine.handle(.deviceMayBeFree, at: clock.now).isEmpty)
        clock.advance(lastProbe + .milliseconds(50) - clock.now)
        #expect(machine.handle(.deadline, at: clock.now) == SupervisionActions([.startProbe, .armDeadline(.milliseconds(1100))]))
        // A release while the probe runs is ignored; after it fails, a
        // release later than the retry probes at once.
        #expect(machine.handle(.deviceMayBeFree, at: clock.now + .milliseconds(1)).isEmpty)
        #expect(machine.phase == .probing)
        clock.advance(.milliseconds(2))
        _ = machine.handle(.probeFailed(Self.busy), at: clock.now)
        clock.advance(.milliseconds(60))
        #expect(machine.handle(.deviceMayBeFree, at: clock.now) == SupervisionActions([.startProbe, .armDeadline(.milliseconds(1100))]))
        #expect(machine.handle(.probeSucceeded, at: clock.now + .milliseconds(30)).contains(.spawn))
    }

    @Test func aReleaseJustAfterAFailureKeepsTheSoonerRetry() {
        var machine = SupervisionTable(configuration: Self.growing)
        _ = machine.handle(.start, at: Self.t0)
        #expect(Self.armed(machine.handle(.probeFailed(Self.busy), at: Self.t0)) == .milliseconds(50))
        // The next probe is due at t0 + 50 ms, no later than a release could make it.
        #expect(machine.handle(.deviceMayBeFree, at: Self.t0 + .milliseconds(5)).isEmpty)
        #expect(machine.handle(.deadline, at: Self.t0 + .milliseconds(50)) == SupervisionActions([.startProbe, .armDeadline(.milliseconds(1100))]))
    }

    @Test func staleSearchesCountEveryFailedProbe() throws {
        var machine = SupervisionTable(configuration: Self.growing)
        var clock = FakeClock(at: Self.t0)
        _ = machine.handle(.start, at: clock.now)
        var searches: [(probe: Int, waited: Duration)] = []
        for probe in 1...40 {
            let actions = machine.handle(.probeFailed(Self.busy), at: clock.now)
            if actions.contains(.reapStalePlayers) { searches.append((probe, clock.now - Self.t0)) }
            try clock.advance(#require(Self.armed(actions)))
            _ = machine.handle(.deadline, at: clock.now)
        }
        #expect(searches.map(\.probe) == [20, 40])
        // The first search comes after seconds of waiting, as 4 probes 2 s
        // apart do, not among the fast retries.
        #expect(searches[0].waited > .seconds(4) && searches[0].waited < .seconds(10), "\(searches[0].waited)")
    }

    @Test func withAFixedScheduleAReleaseIsStillActedOnWithin50ms() throws {
        var machine = SupervisionTable(configuration: Self.gated)  // retry = interval = 2 s
        _ = machine.handle(.start, at: Self.t0)
        #expect(Self.armed(machine.handle(.probeFailed(Self.busy), at: Self.t0)) == .seconds(2))
        #expect(machine.handle(.deviceMayBeFree, at: Self.t0 + .milliseconds(10)) == SupervisionActions([.armDeadline(.milliseconds(40))]))
        #expect(machine.handle(.deadline, at: Self.t0 + .milliseconds(50)) == SupervisionActions([.startProbe, .armDeadline(Self.gate.probeDeadline)]))
    }

    /// A node is closed before its driver lets go of the device: a probe
    /// answering a release may still find it busy, so the next waits restart
    /// at the retry and double until they reach the grown schedule again.
    @Test func aProbeAnsweringAReleaseThatFailsIsRetriedSoonThenTheScheduleResumes() throws {
        var machine = SupervisionTable(configuration: Self.growing)
        var clock = try FakeClock(at: Self.failUntilTheWaitHasGrown(&machine))
        #expect(Self.armed(machine.handle(.probeFailed(Self.busy), at: clock.now)) == .seconds(4))
        clock.advance(.seconds(1))
        #expect(machine.handle(.deviceMayBeFree, at: clock.now) == SupervisionActions([.startProbe, .armDeadline(.milliseconds(1100))]))
        var waits: [Duration] = []
        for _ in 0..<8 {
            clock.advance(.milliseconds(3))
            let wait = try #require(Self.armed(machine.handle(.probeFailed(Self.busy), at: clock.now)))
            waits.append(wait)
            clock.advance(wait)
            _ = machine.handle(.deadline, at: clock.now)
        }
        #expect(waits == [50, 100, 200, 400, 800, 1600, 3200, 4000].map { Duration.milliseconds($0) })
        // Without another release, the grown schedule goes on.
        #expect(Self.armed(machine.handle(.probeFailed(Self.busy), at: clock.now)) == .seconds(4))
    }
}

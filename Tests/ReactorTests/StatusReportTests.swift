import Glibc
import Testing
import Presentation
import Reactor
import Supervision

/// The status file's `summary=` is the STATUS= sentence of the same state,
/// in every phase, and survives the file's encoding.
@Suite struct StatusReportTests {
    final class FakeGate: GateDriver {
        let device = "lb3c"
        let sources: [any EventSource] = []
        var heldBy: String? = "pid 812 squeezelite"
        var staleLeftover: String? = "squeezelite -o lb3c"
    }

    static let t0 = MonotonicInstant(nanoseconds: 5_000_000_000_000)
    static let busy = ProbeFailure(stage: .open, errno: EBUSY)
    static let gated = SupervisionConfiguration(backoff: .standard, stopTimeout: .seconds(3), killGrace: .seconds(1),
                                                gate: GateTiming(probeDuration: .milliseconds(50), staleAfter: 1000))

    /// A table after `events` (all at t0), and its report at t0.
    static func report(_ events: [SupervisionEvent], gated: Bool = false) -> (StatusReport, String) {
        var table = SupervisionTable(configuration: gated ? Self.gated
                                     : SupervisionConfiguration(backoff: .standard, stopTimeout: .seconds(3), killGrace: .seconds(1)))
        for event in events { _ = table.handle(event, at: t0) }
        let report = StatusReport.of(table, commandName: "squeezelite", gate: gated ? FakeGate() : nil, now: t0, wallNow: 1_700_000_000)
        return (report, StatusFile.render(report.pairs))
    }

    /// Started, then `count` failed probes, each after the wait before it.
    static func failedProbes(_ count: Int) -> [SupervisionEvent] {
        [.start] + (1...count).flatMap { $0 == 1 ? [.probeFailed(busy)] : [.deadline, .probeFailed(busy)] }
    }

    static let states: [(String, [SupervisionEvent], Bool)] = [
        ("starting", [.start], false),
        ("running", [.start, .spawned(pid: 812)], false),
        ("backing-off", [.start, .spawned(pid: 812), .childExited(.exited(1))], false),
        ("backing-off after a signal", [.start, .spawned(pid: 812), .childExited(.signaled(SIGSEGV, coreDumped: false))], false),
        ("probing", [.start], true),
        ("waiting-for-device", failedProbes(14), true),
        ("stopping", [.start, .spawned(pid: 812), .signal(SIGTERM)], false),
        ("stopped", [.start, .spawned(pid: 812), .childExited(.exited(0))], false),
    ]

    @Test(arguments: 0..<states.count)
    func summaryIsTheStatusSentence(index: Int) throws {
        let (label, events, gated) = Self.states[index]
        let (report, line) = Self.report(events, gated: gated)
        #expect(report.fields.last == StatusReport.Field("summary", report.text), "\(label)")
        let pairs = try #require(StatusFile.parse(line), "\(label): \(line)")
        #expect(pairs.last?.0 == "summary" && pairs.last?.1 == report.text, "\(label): \(line)")
        #expect(pairs.filter { $0.0 == "summary" }.count == 1)
        #expect(!report.text.isEmpty && !report.text.contains("\n"))
    }

    /// The sentences an app shows, exactly, and how they are written.
    @Test func realSentences() {
        let (waiting, waitingLine) = Self.report(Self.failedProbes(14), gated: true)
        #expect(waiting.text == "waiting for lb3c: EBUSY, held by pid 812 squeezelite (14 failed probes)")
        #expect(waitingLine.hasSuffix(" summary=waiting%20for%20lb3c:%20EBUSY,%20held%20by%20pid%20812%20squeezelite%20(14%20failed%20probes)\n"),
                "\(waitingLine)")
        let (first, _) = Self.report(Self.failedProbes(1), gated: true)
        #expect(first.text == "waiting for lb3c: EBUSY, held by pid 812 squeezelite (1 failed probe)")
        let (backoff, _) = Self.report([.start, .spawned(pid: 812), .childExited(.exited(1))])
        #expect(backoff.text == "restarting in 2 s after exit 1, 1 restart")
    }
}

extension StatusReportTests {
    final class HeldGate: GateDriver {
        let device = "lb2c"
        let sources: [any EventSource] = []
        var heldBy: String? = nil
        var staleLeftover: String? = nil
        var runningHolder: RunningDeviceWatch.Holder? = RunningDeviceWatch.Holder(pid: 900, name: "aplay", kind: .intruder)
    }

    /// While the player runs, a holder not its own is named in the sentence
    /// and by pid; without one, neither appears.
    @Test func aRunningPlayersDeviceHolderIsNamedInTheSummaryAndByPid() {
        var table = SupervisionTable(configuration: SupervisionConfiguration())
        _ = table.handle(.start, at: Self.t0)
        _ = table.handle(.spawned(pid: 812), at: Self.t0)
        let gate = HeldGate()
        let held = StatusReport.of(table, commandName: "shairport-sync", gate: gate, now: Self.t0, wallNow: 0)
        #expect(held.text == "running shairport-sync (pid 812), 0 restarts; lb2c held by pid 900 aplay")
        #expect(held.fields.contains(StatusReport.Field("holder_pid", "900")))
        #expect(held.fields.contains(StatusReport.Field("holder_command", "aplay")))
        #expect(held.fields.last == StatusReport.Field("summary", held.text))
        gate.runningHolder = nil
        let free = StatusReport.of(table, commandName: "shairport-sync", gate: gate, now: Self.t0, wallNow: 0)
        #expect(free.text == "running shairport-sync (pid 812), 0 restarts")
        #expect(!free.fields.contains { $0.key == "holder_pid" || $0.key == "holder_command" })
    }
}

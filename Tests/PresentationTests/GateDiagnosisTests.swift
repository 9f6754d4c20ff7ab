@testable import Presentation
import Supervision
import Testing
import Glibc

/// What a failed probe's report says, from made-up facts: holders of this
/// PCM first, dmix state when nobody holds it, other users as context, and
/// processes that could not be inspected as a count.
@Suite struct GateDiagnosisTests {
    static let einval = ProbeFailure(stage: .open, errno: EINVAL)
    /// lb1c as AmpliPi defines it, on card 3: plug → dmix lb1 (ipc_key 1028) → hw:3,0.
    static let route = PCMRoute(card: 3, device: 0, direct: DirectPlugin(type: "dmix", name: "lb1", configuredKey: 1028,
                                                                        addsUID: false, key: 0x3404))

    static func facts(scan: HolderScan = HolderScan(holders: [], unreadableProcesses: 0)) -> GateFacts {
        GateFacts(device: "lb1c", soundDirectory: "/dev/snd", failure: einval, route: route, scan: scan)
    }

    @Test func aLeftoverFromAnExitedChildIsNamedAndSaidToBeCleared() {
        var facts = Self.facts(scan: HolderScan(holders: [], unreadableProcesses: 47))
        facts.segmentBefore = SharedMemorySegment(key: 0x3404, id: 3, creatorPID: 118, lastPID: 118, attachments: 0, ownerUID: 1000)
        facts.semaphoreBefore = SemaphoreSet(key: 0x3404, id: 2, count: 3, ownerUID: 1000)
        facts.processes = [GateFacts.Process(pid: 118, commandLine: nil)]
        facts.ownChildren = [118: "squeezelite"]
        let diagnosis = GateDiagnosis(facts)
        #expect(diagnosis.gist == "dmix state left by squeezelite (pid 118, exited)")
        #expect(diagnosis.lines == [
            "lb1c: dmix lb1 (key 0x00003404: ipc_key 1028 on hw:3,0): shared memory and semaphore left with no process attached, "
                + "created by squeezelite (pid 118, exited); the failed open removed it, so the next open starts afresh",
        ])
        // Not root: one debug sentence, never a warning line of its own.
        #expect(diagnosis.uninspected == "47 processes could not be inspected (not root): holders among them are not listed")
    }

    @Test func aLeftoverOfAStrangerStillThere() {
        var facts = Self.facts()
        let segment = SharedMemorySegment(key: 0x3404, id: 3, creatorPID: 90, lastPID: 90, attachments: 0, ownerUID: 0)
        facts.segmentBefore = segment
        facts.segmentNow = segment
        let diagnosis = GateDiagnosis(facts)
        #expect(diagnosis.gist == "dmix state left by pid 90 (exited)")
        #expect(diagnosis.lines.first?.hasSuffix("created by pid 90 (exited); still there (the next open of lb1c by its owner's user removes it)") == true)
    }

    @Test func aSegmentAttachedByAPlayerOnAnotherDeviceNamesItAndTheSharedKey() {
        let other = DeviceHolder(pid: 300, commandLine: ["squeezelite", "-o", "lb2c"], devices: ["/dev/snd/pcmC4D0p"])
        var facts = Self.facts(scan: HolderScan(holders: [other], unreadableProcesses: 0))
        facts.segmentBefore = SharedMemorySegment(key: 0x3404, id: 3, creatorPID: 300, lastPID: 300, attachments: 1, ownerUID: 1000)
        facts.processes = [GateFacts.Process(pid: 300, commandLine: ["squeezelite", "-o", "lb2c"])]
        facts.sharingPCMs = ["lb2"]
        let diagnosis = GateDiagnosis(facts)
        #expect(diagnosis.lines == [
            "lb1c: dmix lb1 (key 0x00003404: ipc_key 1028 on hw:3,0): shared memory attached by 1 process not holding lb1c's device: "
                + "pid 300 (squeezelite -o lb2c) playing to pcmC4D0p; lb2 has the same key (0x00003404) in the ALSA configuration",
        ])
        #expect(diagnosis.gist == "dmix key 0x00003404 in use by pid 300 (squeezelite -o lb2c) playing to pcmC4D0p")
    }

    @Test func holdersOfThisPCMComeFirstAndOthersAreOnlyContext() {
        let monitord = DeviceHolder(pid: 217, commandLine: ["monitord", "--", "squeezelite", "-o", "lb2c"],
                                    devices: ["/dev/snd/pcmC4D0p", "/dev/snd/timer"])
        let aplay = DeviceHolder(pid: 400, commandLine: ["aplay", "-D", "hw:3,0,0", "x.wav"], devices: ["/dev/snd/pcmC3D0p"])
        let diagnosis = GateDiagnosis(Self.facts(scan: HolderScan(holders: [monitord, aplay], unreadableProcesses: 3)))
        #expect(diagnosis.lines == [
            "lb1c holder: pid 400 (aplay -D hw:3,0,0 x.wav) has pcmC3D0p open",
            "other /dev/snd users, not holding lb1c's device (context only): pid 217 monitord (pcmC4D0p,timer)",
        ])
        #expect(diagnosis.gist == "held by pid 400 aplay")
    }

    @Test func nobodyAndNoDmixStateFoldsTheUninspectedCountIntoTheSentence() {
        let elsewhere = DeviceHolder(pid: 217, commandLine: ["monitord"], devices: ["/dev/snd/pcmC4D0p"])
        let diagnosis = GateDiagnosis(Self.facts(scan: HolderScan(holders: [elsewhere], unreadableProcesses: 47)))
        #expect(diagnosis.lines.first == "no process holds /dev/snd/pcmC3D0p: lb1c fails unheld (open: EINVAL (Invalid argument)): "
                + "a configuration or driver problem, or another user's process (47 processes of other users could not be inspected)")
        #expect(diagnosis.lines.count == 2)
        #expect(diagnosis.gist == "open: EINVAL (Invalid argument), no holder found")
    }

    @Test func withoutARouteEverySoundDeviceUserIsAHolderAsBefore() {
        let player = DeviceHolder(pid: 50, commandLine: ["other-app", "-o", "lb0c"], devices: ["/tmp/x/snd/pcmC0D0p"])
        let facts = GateFacts(device: "lb0c", soundDirectory: "/tmp/x/snd", failure: ProbeFailure(stage: .open, errno: EBUSY),
                              route: nil, scan: HolderScan(holders: [player], unreadableProcesses: 0))
        #expect(GateDiagnosis(facts).lines == ["lb0c holder: pid 50 (other-app -o lb0c) has pcmC0D0p open"])
    }

    @Test func eachFactGivesItsFinding() {
        let aplay = DeviceHolder(pid: 400, commandLine: ["aplay"], devices: ["/dev/snd/pcmC3D0p"])
        #expect(GateDiagnosis(Self.facts(scan: HolderScan(holders: [aplay], unreadableProcesses: 0))).finding == .heldBy([aplay]))
        var left = Self.facts()
        left.segmentBefore = SharedMemorySegment(key: 0x3404, id: 3, creatorPID: 90, lastPID: 90, attachments: 0, ownerUID: 0)
        #expect(GateDiagnosis(left).finding == .directStateLeft(creatorPID: 90))
        var inUse = Self.facts()
        inUse.segmentNow = SharedMemorySegment(key: 0x3404, id: 3, creatorPID: 90, lastPID: 91, attachments: 2, ownerUID: 0)
        #expect(GateDiagnosis(inUse).finding == .directKeyInUse(attachments: 2))
        var semaphore = Self.facts()
        semaphore.semaphoreNow = SemaphoreSet(key: 0x3404, id: 7, count: 3, ownerUID: 0)
        #expect(GateDiagnosis(semaphore).finding == .semaphoreWithoutMemory(id: 7))
        #expect(GateDiagnosis(Self.facts(scan: HolderScan(holders: [], unreadableProcesses: 0, failure: EACCES))).finding
            == .holdersUnknown(errno: EACCES))
        #expect(GateDiagnosis(Self.facts()).finding == .noHolderFound)
    }

    /// The first failed probe names the holders at info and keeps the rest
    /// at debug; the grace's end says everything at warning.
    @Test func theOccasionGivesTheLevels() {
        let aplay = DeviceHolder(pid: 400, commandLine: ["aplay"], devices: ["/dev/snd/pcmC3D0p"])
        let other = DeviceHolder(pid: 217, commandLine: ["monitord"], devices: ["/dev/snd/pcmC4D0p"])
        let diagnosis = GateDiagnosis(Self.facts(scan: HolderScan(holders: [aplay, other], unreadableProcesses: 5)))
        #expect(diagnosis.entries(.firstFailedProbe).map(\.level) == [.info, .debug, .debug])
        #expect(diagnosis.entries(.graceEnded).map(\.level) == [.warning, .warning, .debug])
        #expect(diagnosis.entries(.graceEnded).map(\.line) == diagnosis.lines + [diagnosis.uninspected ?? ""])
        var left = Self.facts()
        left.segmentBefore = SharedMemorySegment(key: 0x3404, id: 3, creatorPID: 90, lastPID: 90, attachments: 0, ownerUID: 0)
        #expect(GateDiagnosis(left).entries(.firstFailedProbe).map(\.level) == [.debug])
    }

    @Test func priorities() {
        let renderer = LogRenderer(commandName: "squeezelite", commandLine: ["squeezelite"], device: "lb1c",
                                   configuration: SupervisionConfiguration(gate: GateTiming()))
        #expect(renderer.level(of: .deviceUnavailable(Self.einval)) == .debug)
        #expect(renderer.level(of: .deviceReady(after: .milliseconds(177), probes: 2, warned: false)) == .info)
        #expect(renderer.level(of: .deviceReady(after: .seconds(9), probes: 12, warned: true)) == .notice)
        let late = LogRecord.deviceUnavailableAfterGrace(Self.einval, probes: 6, waited: .seconds(1))
        #expect(renderer.level(of: late) == .warning)
        #expect(renderer.message(late) == "lb1c is not available (open: EINVAL (Invalid argument)) after 1 s, 6 probes; "
                + "holding squeezelite back, probing at most every 4 s")
    }

    /// A hiccup's ready line ends with the gist of what the first failed
    /// probe found; a warned wait's end, or one with nothing reported, does not.
    @Test func theReadyLineOfAHiccupEndsWithTheFirstFinding() {
        let renderer = LogRenderer(commandName: "squeezelite", commandLine: ["squeezelite"], device: "lb1c",
                                   configuration: SupervisionConfiguration(gate: GateTiming()))
        let gist = "held by pid 400 aplay"
        let hiccup = LogRecord.deviceReady(after: .milliseconds(177), probes: 2, warned: false)
        #expect(renderer.message(hiccup, firstFinding: gist) == "lb1c ready after 177 ms, 2 probes: held by pid 400 aplay")
        #expect(renderer.message(hiccup) == "lb1c ready after 177 ms, 2 probes")
        let warned = LogRecord.deviceReady(after: .seconds(9), probes: 12, warned: true)
        #expect(renderer.message(warned, firstFinding: gist) == "lb1c ready after 9 s, 12 probes")
    }
}

import Presentation
import Supervision
import CLibc

/// Who holds the gate's device, and what state is behind it: the facts the
/// gate gathers around a failed probe (/proc, /proc/sysvipc, alsa-lib's
/// route), classified by `GateDiagnosis` and logged. It keeps what a later
/// report needs: the route, the last failure, the dmix state just before
/// the latest probe, and this monitord's recent children.
final class HolderReport {
    private let settings: GateSettings
    /// The PCM's hw end and dmix, as the gate last read them.
    var route: PCMRoute?
    /// The last probe's failure: what the report explains when no process
    /// holds a device.
    var lastFailure: ProbeFailure?
    /// The dmix's shared memory and semaphore just before the latest probe:
    /// a failed open removes an unattached leftover, so afterwards it is gone.
    private var segmentBeforeProbe: SharedMemorySegment?
    private var semaphoreBeforeProbe: SemaphoreSet?
    /// This monitord's recent children, to name one that left dmix state behind.
    private var ownChildren: [Int32] = []
    /// Up to three holders of the PCM's node at the last report (status lines).
    private(set) var heldBy: String?
    /// The last report's gist, for the one info line of a hiccup.
    private(set) var firstFinding: String?

    init(settings: GateSettings) {
        self.settings = settings
    }

    /// A probe is about to open the device: the dmix state now is what a
    /// failure of it is explained by.
    func probeBegins() {
        (segmentBeforeProbe, semaphoreBeforeProbe) = directState()
    }

    func childStarted(pid: Int32) {
        ownChildren.append(pid)
        if ownChildren.count > 8 { ownChildren.removeFirst() }
    }

    /// The route's dmix segment and semaphore now (read only).
    private func directState() -> (SharedMemorySegment?, SemaphoreSet?) {
        guard let key = route?.direct?.key else { return (nil, nil) }
        let segment = ProcEntries.contents("/proc/sysvipc/shm").flatMap { SysVIPC.sharedMemory($0).first { $0.key == key } }
        let semaphore = ProcEntries.contents("/proc/sysvipc/sem").flatMap { SysVIPC.semaphores($0).first { $0.key == key } }
        return (segment, semaphore)
    }

    /// Gathers the facts now and logs the diagnosis at the levels its
    /// occasion gives (`GateDiagnosis.entries`).
    func report(_ occasion: GateDiagnosis.Occasion, _ logger: Logger) {
        let scan = DeviceHolders.scan(deviceDirectory: settings.soundDirectory, excluding: [getpid()])
        let (segmentNow, semaphoreNow) = directState()
        var facts = GateFacts(device: settings.parameters.device, soundDirectory: settings.soundDirectory, failure: lastFailure, route: route,
                              scan: scan, segmentBefore: segmentBeforeProbe, segmentNow: segmentNow,
                              semaphoreBefore: semaphoreBeforeProbe, semaphoreNow: semaphoreNow)
        let name = settings.commandBaseName
        for pid in ownChildren { facts.ownChildren[pid] = name }
        let split = facts.holdersAndOthers
        if let segment = facts.segment {
            // The last to attach is often this monitord's own probe: not a user.
            for pid in [segment.creatorPID, segment.lastPID] where pid > 0 && pid != getpid() {
                facts.processes.append(GateFacts.Process(pid: pid, commandLine: ProcEntries.commandLine(pid: pid, procRoot: "/proc")))
            }
            if segment.attachments > 0 && split.holders.isEmpty, let key = route?.direct?.key {
                var own: Set<String> = [settings.parameters.device]
                if let name = route?.direct?.name { own.insert(name) }
                facts.sharingPCMs = PCMRouteLookup.directPCMs(withKey: key, excluding: own)
            }
        }
        let diagnosis = GateDiagnosis(facts, split: split)
        heldBy = diagnosis.heldBy
        firstFinding = diagnosis.gist
        for entry in diagnosis.entries(occasion) { logger.log(entry.level, entry.line) }
    }
}

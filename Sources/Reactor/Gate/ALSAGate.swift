import CALSA
import CEpoll
import Supervision
import CLibc

/// The ALSA readiness gate in the reactor: runs the non-blocking PCM probe on
/// the loop's epoll, names who holds the sound devices, and ends stale players.
/// The probe is this object's own event source; the stale-player reaper and
/// the device watcher (which wakes a waiting gate when a device is released)
/// are two more.
public final class ALSAGate: GateDriver, EventSource {
    public let settings: GateSettings
    public var device: String { settings.parameters.device }

    private var probe: PCMProbe?
    /// Bumped per probe: readiness from a closed probe's descriptors is dropped.
    private var probeGeneration: UInt32 = 0
    private var watched: [Int32] = []
    private let reaper: StaleReaper
    private let watcher: DeviceWatcher
    private var loop: LoopHandle?
    /// When alsa-lib's cached configuration is read again (a pure table).
    private var configuration = ConfigurationReread()
    public private(set) var heldBy: String?
    public private(set) var firstFinding: String?
    /// The last probe's failure: what the holder report explains when no
    /// process holds a device.
    private var lastFailure: ProbeFailure?
    /// The PCM's hw end and dmix (from alsa-lib's configuration), read at
    /// the first probe and again whenever the configuration is.
    private var route: PCMRoute?
    private var routeRead = false
    /// The dmix's shared memory and semaphore just before the latest probe:
    /// a failed open removes an unattached leftover, so afterwards it is gone.
    private var segmentBeforeProbe: SharedMemorySegment?
    private var semaphoreBeforeProbe: SemaphoreSet?
    /// This monitord's recent children, to name one that left dmix state behind.
    private var ownChildren: [Int32] = []
    public var sources: [any EventSource] { [self, reaper, watcher] }
    public var staleLeftover: String? { reaper.leftover }

    public init(settings: GateSettings) throws(SystemError) {
        self.settings = settings
        reaper = StaleReaper(settings: settings)
        watcher = DeviceWatcher(directory: settings.soundDirectory)
    }

    public func attach(_ handle: LoopHandle) throws(SystemError) {
        loop = handle
    }

    public func ready(_ registration: LoopHandle.Registration, _ readiness: Epoll.Readiness) throws(SystemError) -> SupervisionEvent? {
        guard registration.generation == probeGeneration, let probe else { return nil }
        let slot = Int(registration.slot)
        guard slot < watched.count else { return nil }
        // epoll's EPOLLIN/OUT/ERR/HUP bits equal poll's: the probe translates
        // them with snd_pcm_poll_descriptors_revents.
        return outcome(probe.handle(fd: watched[slot], events: readiness.rawValue))
    }

    public func perform(_ action: SupervisionAction, at now: MonotonicInstant) -> SupervisionEvent? {
        switch action {
        case .startProbe:
            return startProbe(at: now)
        case .abortProbe:
            // The probe deadline (a failure: wait on) or a stop.
            closeProbe()
            waitForRelease()
        case .reportHolders:
            reportHolders(warning: false)
        case .warnHolders:
            reportHolders(warning: true)
        case .reapStalePlayers:
            reaper.reap(at: now)
        case .spawn, .armDeadline, .cancelDeadline, .signalChild, .killGroup, .log, .notify, .exit:
            break  // The reactor's.
        }
        return nil
    }

    // MARK: The probe

    private func startProbe(at now: MonotonicInstant) -> SupervisionEvent? {
        guard let loop else { return nil }
        closeProbe()
        if configuration.beforeProbe(at: now) {
            snd_config_update_free_global()
            routeRead = false
        }
        if !routeRead {
            ALSAErrorOutput.silenceOnThisThread()
            route = PCMRouteLookup.resolve(device)
            routeRead = true
        }
        (segmentBeforeProbe, semaphoreBeforeProbe) = directState()
        let probe = PCMProbe(settings.parameters)
        self.probe = probe
        probeGeneration &+= 1
        var progress = probe.start()
        guard progress == .pending else { return outcome(progress) }
        var unpollable = false
        for (slot, interest) in probe.interests.enumerated() {
            do {
                try loop.watch(interest.fd, for: Epoll.Readiness(rawValue: interest.events),
                               LoopHandle.Registration(slot: UInt16(slot), generation: probeGeneration))
                watched.append(interest.fd)
            } catch where error.errno == EPERM {
                // epoll refuses regular files and /dev/null (the null plugin's
                // descriptor): such a device is always ready.
                unpollable = true
                watched.append(-1)
            } catch {
                closeProbe()
                return .probeFailed(ProbeFailure(stage: .poll, errno: error.errno))
            }
        }
        if unpollable {
            // Bounded: a device that needs time but cannot be polled is left to
            // the probe deadline rather than spun on.
            var attempts = 0
            while progress == .pending && attempts < 64 {
                progress = probe.pump()
                attempts += 1
            }
        }
        return outcome(progress)
    }

    /// A finished probe is closed before its outcome is fed back: the child
    /// must find the device free.
    private func outcome(_ progress: ProbeProgress) -> SupervisionEvent? {
        switch progress {
        case .pending:
            return nil
        case .succeeded:
            closeProbe()
            // The child will now run for hours: give back alsa-lib's parsed
            // configuration (~180 kB of heap per instance). While the device
            // stays unavailable it is kept, since every probe would parse it again.
            snd_config_update_free_global()
            configuration.probeSucceeded()
            _ = cep_release_free_memory()
            watcher.stop()
            return .probeSucceeded
        case .failed(let failure):
            closeProbe()
            lastFailure = failure
            configuration.probeFailed(failure)
            waitForRelease()
            return .probeFailed(failure)
        }
    }

    /// The device is unavailable: watch for its release, and forget the
    /// events of the probe that just closed it.
    private func waitForRelease() {
        watcher.start()
        watcher.drain()
    }

    private func closeProbe() {
        for fd in watched where fd >= 0 { loop?.unwatch(fd) }
        watched.removeAll(keepingCapacity: true)
        probe?.close()
        probe = nil
    }

    // MARK: Who holds the device

    public func childStarted(pid: Int32) {
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

    /// The first failed probe's report: the processes that
    /// hold this PCM's node are named at info; the rest is a detail (debug)
    /// whose gist goes to the ready line, so a dmix leftover met once costs
    /// that one info line. The grace's end gives the full report at warning.
    private func reportHolders(warning: Bool) {
        guard let logger = loop?.logger else { return }
        let scan = DeviceHolders.scan(deviceDirectory: settings.soundDirectory, excluding: [getpid()])
        let (segmentNow, semaphoreNow) = directState()
        var facts = GateFacts(device: device, soundDirectory: settings.soundDirectory, failure: lastFailure, route: route,
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
                var own: Set<String> = [device]
                if let name = route?.direct?.name { own.insert(name) }
                facts.sharingPCMs = PCMRouteLookup.directPCMs(withKey: key, excluding: own)
            }
        }
        let diagnosis = GateDiagnosis(facts, split: split)
        heldBy = diagnosis.heldBy
        firstFinding = diagnosis.gist
        for (index, line) in diagnosis.lines.enumerated() {
            logger.log(warning ? .warning : index < diagnosis.holderLineCount ? .info : .debug, line)
        }
        if let uninspected = diagnosis.uninspected { logger.log(.debug, uninspected) }
    }
}

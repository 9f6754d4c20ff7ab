import CALSA
import CKernelShim
import Presentation
import Supervision
import CLibc

/// The ALSA readiness gate in the reactor: runs the non-blocking PCM probe on
/// the loop's epoll and owns the table's gate actions. Who holds the device
/// is its `HolderReport`'s to say; the stale-player reaper, the device
/// watcher (which wakes a waiting gate when a device is released) and the
/// running watch (holders while the player runs) are event sources beside
/// the probe.
public final class ALSAGate: GateDriver, EventSource {
    public let settings: GateSettings
    public var device: String { settings.parameters.device }

    private var probe: PCMProbe?
    /// Bumped per probe: readiness from a closed probe's descriptors is dropped.
    private var probeGeneration: UInt32 = 0
    private var watched: [Int32] = []
    private let reaper: StaleReaper
    private let watcher: DeviceWatcher
    private let running: RunningDeviceWatcher
    private var loop: LoopHandle?
    /// When alsa-lib's cached configuration is read again (a pure table).
    private var configuration = ConfigurationReread()
    /// The PCM's route (from alsa-lib's configuration) is read at the first
    /// probe and again whenever the configuration is.
    private var routeRead = false
    private let holders: HolderReport
    public var heldBy: String? { holders.heldBy }
    public var firstFinding: String? { holders.firstFinding }
    public var sources: [any EventSource] { [self, reaper, watcher, running] }
    public var runningHolder: RunningDeviceWatch.Holder? { running.shown }
    public var staleLeftover: String? { reaper.leftover }

    public init(settings: GateSettings) throws(SystemError) {
        self.settings = settings
        reaper = StaleReaper(settings: settings)
        watcher = DeviceWatcher(directory: settings.soundDirectory)
        holders = HolderReport(settings: settings)
        running = RunningDeviceWatcher(settings: settings, reaper: reaper, leftoverWindow: settings.leftoverWindow)
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
            if let logger = loop?.logger { holders.report(.firstFailedProbe, logger) }
        case .warnHolders:
            if let logger = loop?.logger { holders.report(.graceEnded, logger) }
        case .reapStalePlayers:
            reaper.reap(at: now)
        case .endDeviceWatch:
            running.playerExited()
        case .spawn, .armDeadline, .cancelDeadline, .signalChild, .signalGroup, .killGroup, .log, .notify, .exit:
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
            holders.route = PCMRouteLookup.resolve(device)
            routeRead = true
        }
        holders.probeBegins()
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
            _ = ksh_release_free_memory()
            watcher.stop()
            return .probeSucceeded
        case .failed(let failure):
            closeProbe()
            holders.lastFailure = failure
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

    public func childStarted(pid: Int32) {
        holders.childStarted(pid: pid)
        if !routeRead {
            // Started without a probe (`--alsa-gate watch`): the node to
            // watch comes from the configuration, read once and given back.
            ALSAErrorOutput.silenceOnThisThread()
            holders.route = PCMRouteLookup.resolve(device)
            routeRead = true
            snd_config_update_free_global()
            _ = ksh_release_free_memory()
        }
        guard let loop else { return }
        running.playerStarted(pid: pid, node: holders.route?.nodeName, at: loop.now)
    }

    public func childExited() {
        running.playerExited()
    }
}

import CKernelShim
import Presentation
import Supervision
import CLibc

/// Tells the gate, while it waits, that a sound device node was closed after
/// writing (a player let go of a PCM), created or moved in: the device may be
/// free, so the next probe need not wait for the retry timer. One inotify
/// descriptor on the sound directory, open only while the gate waits (a
/// healthy child never wakes monitord). Without it (no such directory, no
/// inotify instance left) the gate polls on its timer alone.
///
/// The gate's own probes open and close the device too: it drains the
/// events after each probe, so they never count as a release. A release in
/// the microseconds of a probe is drained with them; the timer catches it.
final class DeviceWatcher: EventSource {
    private let directory: String
    private var loop: LoopHandle?
    private var descriptor: Descriptor?
    private var generation: UInt32 = 0
    private var unavailableReported = false
    /// Names of the nodes that count (`pcmC2D0p`): control and timer nodes
    /// are closed by mixers and the like all the time.
    static let prefix = "pcm"

    init(directory: String) {
        self.directory = directory
    }

    func attach(_ handle: LoopHandle) throws(SystemError) {
        loop = handle
    }

    /// From the first failed probe on; a second call keeps the one watch.
    func start() {
        guard descriptor == nil, let loop else { return }
        let fd = ksh_inotify_watch_closes(directory)
        guard fd >= 0 else {
            if !unavailableReported {
                unavailableReported = true
                loop.logger.log(.debug, "not watching \(directory) for released devices (\(Errno.describe(Errno.current))): probing on the timer alone")
            }
            return
        }
        generation &+= 1
        descriptor = loop.watchInput(adopting: fd, generation: generation)  // nil: the timer still probes
    }

    /// Once the device is ready (or monitord stops): no more wakeups.
    func stop() {
        guard let fd = descriptor?.rawValue else { return }
        loop?.unwatch(fd)
        descriptor = nil
    }

    /// Forgets what is queued (the events of the gate's own probe).
    func drain() {
        guard let fd = descriptor?.rawValue else { return }
        _ = ksh_inotify_drain(fd, Self.prefix)
    }

    func ready(_ registration: LoopHandle.Registration, _ readiness: Epoll.Readiness) throws(SystemError) -> SupervisionEvent? {
        guard registration.generation == generation, let fd = descriptor?.rawValue else { return nil }
        let released = ksh_inotify_drain(fd, Self.prefix)
        if released < 0 {
            // Unreadable: give up the watch rather than spin on it.
            stop()
            return nil
        }
        return released > 0 ? .deviceMayBeFree : nil
    }
}

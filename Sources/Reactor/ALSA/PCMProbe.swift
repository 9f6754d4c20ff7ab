import CALSA
import Supervision
import CLibc

/// A non-blocking readiness probe of one ALSA playback device, driven by a
/// single-threaded epoll reactor: it opens the PCM, writes silence whenever
/// the PCM's poll descriptors say there is room, and succeeds once
/// `parameters.duration` worth of frames was accepted and the device has
/// played at least two periods of it (the buffer is full before it starts,
/// so frames written beyond the buffer were played). Nothing in here sleeps
/// or waits; the deadline for "no progress" is the reactor's timer.
///
/// Once the result is `.succeeded` or `.failed`, the PCM is already closed
/// (so the player about to be spawned can open it) and `interests` is empty.
public final class PCMProbe {
    public let parameters: PCMParameters
    /// While pending: the descriptors to watch (from snd_pcm_poll_descriptors).
    public private(set) var interests: [PollInterest] = []

    private var pcm: OpaquePointer?
    private var descriptors: [pollfd] = []
    private var silence: [Int16] = []
    private var chunkFrames: UInt64 = 0
    private var bufferFrames: UInt64 = 0
    private var periodFrames: UInt64 = 0
    private var framesWritten: UInt64 = 0
    private var recoveries = 0
    private var started = false
    private var outcome: ProbeProgress = .pending

    /// Underruns tolerated before the device counts as failing: a probe that
    /// keeps underrunning has a reactor that is starved, not a slow device,
    /// but it must not loop forever either.
    private static let maximumRecoveries = 8

    public init(_ parameters: PCMParameters) {
        self.parameters = parameters
    }

    deinit {
        close()
    }

    /// snd_pcm_open(PLAYBACK, NONBLOCK), hw params (S16_LE, channels, rate, a
    /// buffer of at most `duration`), sw params, prepare, and a first write of
    /// silence. Never blocks. Calling it again returns the current progress.
    public func start() -> ProbeProgress {
        guard !started else { return outcome }
        started = true
        ALSAErrorOutput.silenceOnThisThread()

        var handle: OpaquePointer?
        let err = snd_pcm_open(&handle, parameters.device, SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK)
        guard err >= 0, let handle else { return finish(.failed(ProbeFailure(stage: .open, errno: -err))) }
        pcm = handle

        guard parameters.channels > 0, parameters.rate > 0 else {
            return finish(.failed(ProbeFailure(stage: .hwParams, errno: EINVAL)))
        }
        let geometry: PCMGeometry
        switch PCMSetup.configureHardware(handle, parameters) {
        case .success(let value): geometry = value
        case .failure(let failure): return finish(.failed(failure))
        }
        if let failure = PCMSetup.configureSoftware(handle, geometry) {
            return finish(.failed(failure))
        }
        let prepared = snd_pcm_prepare(handle)
        guard prepared >= 0 else { return finish(.failed(ProbeFailure(stage: .prepare, errno: -prepared))) }
        if let failure = loadDescriptors(handle) {
            return finish(.failed(failure))
        }

        chunkFrames = geometry.bufferFrames
        bufferFrames = geometry.bufferFrames
        periodFrames = geometry.periodFrames
        silence = [Int16](repeating: 0, count: Int(geometry.bufferFrames) * Int(parameters.channels))
        return writeSilence()
    }

    /// One of the descriptors is ready: translate with
    /// snd_pcm_poll_descriptors_revents (playback readiness can arrive as
    /// POLLIN, e.g. on dmix or a timerfd) and write as much silence as fits.
    public func handle(fd: Int32, events: UInt32) -> ProbeProgress {
        guard let pcm, case .pending = outcome else { return outcome }
        var ready = descriptors
        for index in ready.indices {
            ready[index].revents = ready[index].fd == fd ? Int16(truncatingIfNeeded: events) : 0
        }
        var revents: UInt16 = 0
        let err = snd_pcm_poll_descriptors_revents(pcm, &ready, UInt32(ready.count), &revents)
        guard err >= 0 else { return finish(.failed(ProbeFailure(stage: .poll, errno: -err))) }

        let translated = Int32(revents)
        if translated & Int32(POLLERR | POLLHUP | POLLNVAL) != 0 {
            // An underrun or suspend is recovered by the write path; anything
            // else flagged as an error means the device went away.
            let state = snd_pcm_state(pcm)
            if state == SND_PCM_STATE_DISCONNECTED {
                return finish(.failed(ProbeFailure(stage: .poll, errno: ENODEV)))
            }
            let recoverable = state == SND_PCM_STATE_XRUN || state == SND_PCM_STATE_SUSPENDED
            guard recoverable || translated & Int32(POLLOUT) != 0 else {
                return finish(.failed(ProbeFailure(stage: .poll, errno: EIO)))
            }
            return writeSilence()
        }
        if translated & Int32(POLLOUT) != 0 {
            return writeSilence()
        }
        return .pending // a wakeup without a period of room: wait for the next
    }

    /// For descriptors epoll refuses (EPERM, e.g. the null plugin's
    /// /dev/null): write without waiting, as if the descriptor were ready.
    public func pump() -> ProbeProgress {
        guard pcm != nil, case .pending = outcome else { return outcome }
        return writeSilence()
    }

    /// snd_pcm_close, never snd_pcm_drain: draining a non-blocking ioplug
    /// handle can block forever in poll(-1). Idempotent.
    public func close() {
        interests = []
        descriptors = []
        guard let pcm else { return }
        self.pcm = nil
        _ = snd_pcm_close(pcm)
    }

    // MARK: - Internals

    private func loadDescriptors(_ pcm: OpaquePointer) -> ProbeFailure? {
        let count = snd_pcm_poll_descriptors_count(pcm)
        guard count > 0 else { return ProbeFailure(stage: .poll, errno: count < 0 ? -count : EINVAL) }
        var fds = [pollfd](repeating: pollfd(), count: Int(count))
        let filled = snd_pcm_poll_descriptors(pcm, &fds, UInt32(count))
        guard filled > 0 else { return ProbeFailure(stage: .poll, errno: filled < 0 ? -filled : EINVAL) }
        descriptors = Array(fds.prefix(Int(filled)))
        let wanted = UInt32(POLLIN | POLLOUT | POLLPRI)
        interests = descriptors.map {
            PollInterest(fd: $0.fd, events: UInt32(UInt16(bitPattern: $0.events)) & wanted)
        }
        return nil
    }

    /// Keeps the buffer full (EAGAIN: wait for readiness) until the probe has
    /// written `duration` worth of frames and the device has played two
    /// periods: what was written minus what still sits in the buffer.
    private func writeSilence() -> ProbeProgress {
        guard let pcm else { return outcome }
        let target = parameters.totalFrames
        while true {
            let available = snd_pcm_avail_update(pcm)
            if available < 0 {
                if let failure = recover(pcm, error: Int32(truncatingIfNeeded: available)) {
                    return finish(.failed(failure))
                }
                continue
            }
            let queued = bufferFrames - min(UInt64(available), bufferFrames)
            let played = framesWritten > queued ? framesWritten - queued : 0
            if framesWritten >= target && played >= 2 * periodFrames { break }
            let frames = min(UInt64(available), chunkFrames)
            if frames == 0 { return .pending }
            let written = silence.withUnsafeBytes {
                snd_pcm_writei(pcm, $0.baseAddress, snd_pcm_uframes_t(frames))
            }
            if written == -Int(EAGAIN) || written == 0 { return .pending }
            if written < 0 {
                if let failure = recover(pcm, error: Int32(truncatingIfNeeded: written)) {
                    return finish(.failed(failure))
                }
                continue
            }
            framesWritten += UInt64(written)
        }
        return finish(.succeeded)
    }

    /// Underrun (-EPIPE) and suspend (-ESTRPIPE) are re-prepared and the
    /// frames already written still count: the device did accept them.
    /// snd_pcm_recover is avoided because for -ESTRPIPE it sleeps in a loop.
    private func recover(_ pcm: OpaquePointer, error: Int32) -> ProbeFailure? {
        guard error == -EPIPE || error == -ESTRPIPE else {
            return ProbeFailure(stage: .write, errno: -error)
        }
        recoveries += 1
        guard recoveries <= Self.maximumRecoveries else { return ProbeFailure(stage: .write, errno: -error) }
        let prepared = snd_pcm_prepare(pcm)
        return prepared < 0 ? ProbeFailure(stage: .write, errno: -prepared) : nil
    }

    private func finish(_ result: ProbeProgress) -> ProbeProgress {
        outcome = result
        close()
        return result
    }
}

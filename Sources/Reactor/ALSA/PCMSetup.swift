import CALSA
import Supervision

/// The buffer geometry alsa-lib settled on for an open PCM.
struct PCMGeometry: Equatable {
    var bufferFrames: UInt64
    var periodFrames: UInt64
}

/// Hardware and software parameters for a probe, one ALSA call sequence per
/// stage so each failure can be attributed to the stage that refused.
enum PCMSetup {
    /// S16_LE interleaved at the requested rate and channel count (exact: a
    /// player would not get resampling either). The buffer holds at most
    /// `duration` and aims at half of it, so a probe can only succeed after
    /// the device has really consumed audio, not merely buffered it. A device
    /// whose smallest buffer is longer than a short probe keeps its own (the
    /// limit is dropped rather than failing hw_params: dmix, for one, fixes
    /// its period to the slave's); the probe then waits for two periods.
    static func configureHardware(_ pcm: OpaquePointer, _ parameters: PCMParameters) -> Result<PCMGeometry, ProbeFailure> {
        var params: OpaquePointer?
        var err = snd_pcm_hw_params_malloc(&params)
        guard err >= 0, let params else { return .failure(ProbeFailure(stage: .hwParams, errno: -err)) }
        defer { snd_pcm_hw_params_free(params) }

        let maximum = max(parameters.durationMicroseconds, 1)
        var bufferTime = max(maximum / 2, 1)
        var periodTime = max(bufferTime / 4, 1)
        var direction: Int32 = 0
        var limit = maximum
        err = snd_pcm_hw_params_any(pcm, params)
        if err >= 0 { err = snd_pcm_hw_params_set_access(pcm, params, SND_PCM_ACCESS_RW_INTERLEAVED) }
        if err >= 0 { err = snd_pcm_hw_params_set_format(pcm, params, SND_PCM_FORMAT_S16_LE) }
        if err >= 0 { err = snd_pcm_hw_params_set_channels(pcm, params, parameters.channels) }
        if err >= 0 { err = snd_pcm_hw_params_set_rate(pcm, params, parameters.rate, 0) }
        // The public setters try: a refused limit leaves the parameters as they were.
        if err >= 0 { _ = snd_pcm_hw_params_set_buffer_time_max(pcm, params, &limit, &direction) }
        if err >= 0 { err = snd_pcm_hw_params_set_buffer_time_near(pcm, params, &bufferTime, &direction) }
        if err >= 0 { err = snd_pcm_hw_params_set_period_time_near(pcm, params, &periodTime, &direction) }
        // Installing the parameters also prepares the PCM, so a driver whose
        // prepare fails reports it here, as hw_params.
        if err >= 0 { err = snd_pcm_hw_params(pcm, params) }
        guard err >= 0 else { return .failure(ProbeFailure(stage: .hwParams, errno: -err)) }

        var bufferFrames: snd_pcm_uframes_t = 0
        var periodFrames: snd_pcm_uframes_t = 0
        err = snd_pcm_hw_params_get_buffer_size(params, &bufferFrames)
        if err >= 0 { err = snd_pcm_hw_params_get_period_size(params, &periodFrames, &direction) }
        guard err >= 0, bufferFrames > 0, periodFrames > 0 else {
            return .failure(ProbeFailure(stage: .hwParams, errno: err < 0 ? -err : EINVAL))
        }
        return .success(PCMGeometry(bufferFrames: UInt64(bufferFrames), periodFrames: UInt64(periodFrames)))
    }

    /// Start once the buffer is full (the probe's first write fills it), and
    /// report writable once a period is free: one wakeup per period.
    static func configureSoftware(_ pcm: OpaquePointer, _ geometry: PCMGeometry) -> ProbeFailure? {
        var params: OpaquePointer?
        var err = snd_pcm_sw_params_malloc(&params)
        guard err >= 0, let params else { return ProbeFailure(stage: .swParams, errno: -err) }
        defer { snd_pcm_sw_params_free(params) }

        err = snd_pcm_sw_params_current(pcm, params)
        if err >= 0 { err = snd_pcm_sw_params_set_start_threshold(pcm, params, snd_pcm_uframes_t(geometry.bufferFrames)) }
        if err >= 0 { err = snd_pcm_sw_params_set_avail_min(pcm, params, snd_pcm_uframes_t(geometry.periodFrames)) }
        if err >= 0 { err = snd_pcm_sw_params(pcm, params) }
        return err < 0 ? ProbeFailure(stage: .swParams, errno: -err) : nil
    }
}

import CALSA

/// alsa-lib prints its own diagnostics (`ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM lb3c`)
/// straight to stderr, which is the journal for monitord. monitord logs one
/// line of its own per failure instead, so these are dropped.
enum ALSAErrorOutput {
    /// Installs a no-op handler for the calling thread. The handler is
    /// thread-local, so this has to run on the thread that opens PCMs; the
    /// variadic `snd_lib_error_set_handler` cannot be called from Swift, and
    /// the handler is C (Sources/CALSA/shim.h) for Swift 6.0's sake on aarch64.
    static func silenceOnThisThread() {
        calsa_silence_errors_on_this_thread()
    }
}

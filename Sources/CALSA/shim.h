#ifndef MONITORD_CALSA_SHIM_H
#define MONITORD_CALSA_SHIM_H
/* The C library first, as its own module (CLibc): otherwise alsa-lib's
   includes would make poll, EAGAIN and the rest members of CALSA in a build
   without a Glibc module map (Embedded Swift). */
#include "../CLibc/clibc.h"
#include <alsa/asoundlib.h>

/* Drops alsa-lib's own diagnostics on the calling thread (the handler is
   thread-local). Written in C: the handler's va_list parameter is a struct on
   aarch64, and Swift 6.0.3 crashes (SILGen) converting a Swift closure to that
   C function type when compiling for aarch64. */
static inline void calsa_ignore_error(const char *file, int line, const char *function, int err,
                                      const char *fmt, va_list arguments) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt; (void)arguments;
}

static inline void calsa_silence_errors_on_this_thread(void) {
    snd_lib_error_set_local(calsa_ignore_error);
}
#endif

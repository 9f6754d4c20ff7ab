// CLibc: the C library as monitord's Swift code sees it, in both compilers.
//
// The full toolchain has a `Glibc` module; Embedded Swift has none (it
// links against the target's C library but ships no overlay for it). This
// module is what every Swift file imports instead, so one source tree builds
// with `swift build` and with `swiftc -enable-experimental-feature Embedded`
// for x86_64, aarch64 and armv7. Under the full toolchain the headers below
// belong to Glibc's own module map and are re-exported from here.
//
// What Glibc's Swift overlay adds and a plain module cannot: `errno` (a macro
// over a function call), the variadic `open` and `fcntl` (Swift imports no
// variadic C function), and key paths for `offsetof` (Embedded Swift has no
// key paths). Those are the static inline functions below; they compile into
// the caller, so nothing links.
#ifndef MONITORD_CLIBC_H
#define MONITORD_CLIBC_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/// The calling thread's errno.
static inline int clibc_errno(void) { return errno; }

/// open(2) with its optional third argument always given.
static inline int clibc_open(const char *path, int flags, mode_t mode) { return open(path, flags, mode); }

/// fcntl(2) for the commands that take an int argument (or none: pass 0).
static inline int clibc_fcntl(int fd, int command, int argument) { return fcntl(fd, command, argument); }

/// offsetof(struct sockaddr_un, sun_path).
static inline size_t clibc_sun_path_offset(void) { return offsetof(struct sockaddr_un, sun_path); }

#endif

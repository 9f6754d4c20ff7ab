// CKernelShim: the C shim for every kernel facility monitord needs that Swift's
// Glibc module does not import (epoll, timerfd, signalfd, pidfd, malloc_trim:
// checked with Swift 6.3), and for what is best done in C: the spawn (clone
// with a pidfd, between vfork and exec), waitid(P_PIDFD), macros (SIGRTMIN,
// the epoll flags) and inotify's variable-length records.
// Every symbol is prefixed `ksh_`; macros are exported as constants; nothing
// variadic is exposed. Functions return -1 and leave errno set on failure,
// exactly like the syscalls they wrap, unless documented otherwise.
#ifndef MONITORD_CKERNELSHIM_H
#define MONITORD_CKERNELSHIM_H

#include <stdint.h>
#include <sys/types.h>

// MARK: epoll

/// One readiness report with a plain 64-bit token in place of the kernel's
/// `epoll_data` union, so Swift code never reads a union member (Swift can
/// import `struct epoll_event` itself, packed or not; NIO does).
typedef struct {
    uint32_t events;
    uint64_t token;
} ksh_event;

extern const uint32_t KSH_EPOLLIN;
extern const uint32_t KSH_EPOLLOUT;
extern const uint32_t KSH_EPOLLERR;
extern const uint32_t KSH_EPOLLHUP;
extern const int KSH_EPOLL_CTL_ADD;
extern const int KSH_EPOLL_CTL_DEL;

int ksh_epoll_create(void);
int ksh_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
/// Waits for at most `capacity` (<= 64) events; `timeout_ms` -1 waits forever.
int ksh_epoll_wait(int epfd, ksh_event *out, int capacity, int timeout_ms);

// MARK: time

/// CLOCK_MONOTONIC in nanoseconds.
int64_t ksh_monotonic_ns(void);
/// CLOCK_REALTIME in seconds since the epoch (for human-facing log stamps).
int64_t ksh_realtime_s(void);

// MARK: timerfd

/// A non-blocking, close-on-exec CLOCK_MONOTONIC timerfd.
int ksh_timerfd_create(void);
/// Arms a one-shot (interval_ns 0) or periodic timer `delay_ns` from now.
/// A delay of 0 fires at once (the kernel treats 0 as "disarm", so 1 ns is used).
int ksh_timerfd_arm(int fd, int64_t delay_ns, int64_t interval_ns);
int ksh_timerfd_disarm(int fd);
/// Reads the expiration count; returns 0 with *expirations = 0 on EAGAIN.
int ksh_timerfd_read(int fd, uint64_t *expirations);

// MARK: signals

/// glibc's SIGRTMIN/SIGRTMAX (functions: glibc reserves the first few for itself).
int ksh_sigrtmin(void);
int ksh_sigrtmax(void);

/// Blocks exactly `signals[0..<count]` for the process and returns a
/// non-blocking, close-on-exec signalfd over them.
int ksh_signalfd_open(const int *signals, int count);
/// Reads one pending signal; returns 1 on success, 0 when none is pending.
int ksh_signalfd_read(int fd, int32_t *signo);
/// Sets the disposition of `signo` to SIG_IGN.
int ksh_signal_ignore(int signo);

// MARK: pidfd

int ksh_pidfd_open(pid_t pid);
int ksh_pidfd_send_signal(int pidfd, int signo);

extern const int KSH_CLD_EXITED;
extern const int KSH_CLD_DUMPED;

/// Reaps the exited child behind `pidfd`; with `block` 0 it does not wait.
/// Returns 1 and fills code/status when it was reaped, 0 when it is still
/// running (only without `block`), -1 on error. `code` is CLD_EXITED (status = exit code) or
/// CLD_KILLED/CLD_DUMPED (status = signal number).
int ksh_pidfd_reap(int pidfd, int block, int32_t *code, int32_t *status);

// MARK: spawn

/// Outcome of `ksh_spawn` when it returns 0.
typedef struct {
    pid_t pid;
    int pidfd;
    /// 0 when the child reached exec; otherwise the errno exec failed with
    /// (the child has then already exited and must still be reaped).
    int exec_errno;
} ksh_spawn_result;

/// Starts `file` (looked up in PATH like execvp) with `argv` (NULL-terminated)
/// in a new process group, with an empty signal mask, every signal in
/// `default_signals` reset to SIG_DFL, all descriptors above 2 closed on exec,
/// and PR_SET_PDEATHSIG = `death_signal` (0 for none). Uses clone with
/// CLONE_VM | CLONE_VFORK | CLONE_PIDFD (as posix_spawn, plus the pidfd), so
/// the pid and pidfd arrive together, nothing is copied, and the call returns
/// once the child has exec'd or failed to. Unless `handlers_blocked` says
/// every signal with a handler is already blocked in the calling thread, all
/// signals are blocked around the clone (two more syscalls).
/// Returns 0 and fills `out`, or -1 with errno set when no child was created.
int ksh_spawn(const char *file, char *const argv[],
              const int *default_signals, int default_count,
              int death_signal, int handlers_blocked, ksh_spawn_result *out);

/// kill(-pgid, signo): signals a whole process group.
int ksh_kill_group(pid_t pgid, int signo);

// MARK: inotify

/// A non-blocking, close-on-exec inotify descriptor watching `directory` for
/// a file closed after writing, created or moved in (a sound device node a
/// player had open, or a device that appeared). Returns it, or -1 with errno.
int ksh_inotify_watch_closes(const char *directory);
/// Reads every pending event without blocking; returns how many name a file
/// whose name starts with `prefix` (a queue overflow counts as one), or -1
/// with errno for a read error other than EAGAIN.
int ksh_inotify_drain(int fd, const char *prefix);
/// A non-blocking, close-on-exec inotify descriptor watching `path` (a
/// device node, or the directory of nodes) for opens and closes. Returns it,
/// or -1 with errno.
int ksh_inotify_watch_opens(const char *path);
/// Like `ksh_inotify_drain`, but an event about `path` itself (a watched
/// node: no name) counts too.
int ksh_inotify_drain_node(int fd, const char *prefix);

// MARK: process arguments

/// argc and argv as the C runtime passed them to the process, captured before
/// main runs (glibc hands them to every ELF constructor). Embedded Swift has
/// no `CommandLine`, and this way both compilers read the same bytes.
int ksh_argc(void);
char *const *ksh_argv(void);

// MARK: misc

/// malloc_trim(0): returns freed heap pages to the kernel.
int ksh_release_free_memory(void);

#endif

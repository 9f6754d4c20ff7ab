// Thin, non-variadic wrappers over Linux facilities for Swift. See CKernelShim.h.
#include "CKernelShim.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

const uint32_t KSH_EPOLLIN = EPOLLIN;
const uint32_t KSH_EPOLLOUT = EPOLLOUT;
const uint32_t KSH_EPOLLERR = EPOLLERR;
const uint32_t KSH_EPOLLHUP = EPOLLHUP;
const int KSH_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
const int KSH_EPOLL_CTL_DEL = EPOLL_CTL_DEL;
const int KSH_CLD_EXITED = CLD_EXITED;
const int KSH_CLD_DUMPED = CLD_DUMPED;
int ksh_sigrtmin(void) { return SIGRTMIN; }
int ksh_sigrtmax(void) { return SIGRTMAX; }

// MARK: epoll

int ksh_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int ksh_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, op, fd, op == EPOLL_CTL_DEL ? NULL : &ev);
}

int ksh_epoll_wait(int epfd, ksh_event *out, int capacity, int timeout_ms) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int n = epoll_wait(epfd, events, capacity, timeout_ms);
    for (int i = 0; i < n; i++) {
        out[i].events = events[i].events;
        out[i].token = events[i].data.u64;
    }
    return n;
}

// MARK: time

int64_t ksh_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t ksh_realtime_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

// MARK: timerfd

int ksh_timerfd_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

static struct timespec ns_to_timespec(int64_t ns) {
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

int ksh_timerfd_arm(int fd, int64_t delay_ns, int64_t interval_ns) {
    struct itimerspec spec;
    if (delay_ns < 1) delay_ns = 1;
    if (interval_ns < 0) interval_ns = 0;
    spec.it_value = ns_to_timespec(delay_ns);
    spec.it_interval = ns_to_timespec(interval_ns);
    return timerfd_settime(fd, 0, &spec, NULL);
}

int ksh_timerfd_disarm(int fd) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    return timerfd_settime(fd, 0, &spec, NULL);
}

int ksh_timerfd_read(int fd, uint64_t *expirations) {
    ssize_t n = read(fd, expirations, sizeof *expirations);
    if (n == (ssize_t)sizeof *expirations) return 0;
    if (n < 0 && errno == EAGAIN) {
        *expirations = 0;
        return 0;
    }
    if (n >= 0) errno = EIO;
    return -1;
}

// MARK: signals

int ksh_signalfd_open(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int ksh_signalfd_read(int fd, int32_t *signo) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n == (ssize_t)sizeof info) {
        *signo = (int32_t)info.ssi_signo;
        return 1;
    }
    if (n < 0 && errno == EAGAIN) return 0;
    if (n >= 0) errno = EIO;
    return -1;
}

int ksh_signal_ignore(int signo) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_IGN;
    sigemptyset(&action.sa_mask);
    return sigaction(signo, &action, NULL);
}


// MARK: pidfd

int ksh_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int ksh_pidfd_send_signal(int pidfd, int signo) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signo, NULL, 0);
}

int ksh_pidfd_reap(int pidfd, int block, int32_t *code, int32_t *status) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int options = WEXITED | (block ? 0 : WNOHANG);
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, options) != 0) return -1;
    if (info.si_pid == 0) return 0;
    *code = info.si_code;
    *status = info.si_status;
    return 1;
}

// MARK: spawn

// The child shares our memory (CLONE_VM) and we are suspended until it has
// exec'd or exited (CLONE_VFORK), as in glibc's posix_spawn: no page tables
// are copied, so a restart costs the same however large monitord's heap is.
// The child runs on its own small stack, allocated once, and makes only
// async-signal-safe calls. It reports a failed exec by writing the errno
// into `exec_errno` (shared memory: it is our variable).
enum { CHILD_STACK_SIZE = 64 * 1024 };
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KSH_SPAWN_WITH_FORK 1
#endif
#endif

#ifndef KSH_SPAWN_WITH_FORK
static void *child_stack;
#endif
static int exec_errno;

typedef struct {
    const char *file;
    char *const *argv;
    const int *default_signals;
    int default_count;
    int death_signal;
    pid_t parent;
    /// Where the child writes a failed exec's errno when memory is not
    /// shared (the ThreadSanitizer build below); -1 otherwise.
    int report_fd;
} spawn_request;

#ifndef KSH_SPAWN_WITH_FORK
static int ensure_child_stack(void) {
    if (child_stack != NULL) return 0;
    void *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -1;
    child_stack = stack;
    return 0;
}
#endif

static void close_inherited_descriptors(void) {
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    // 5.9 and 5.10 have close_range but not its flag: close them all at once
    // (in the child, so nothing of the parent's is touched).
    if (errno == EINVAL && syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
    // Kernels before 5.9 (AmpliPi's 5.4): close everything above stderr by hand.
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = 3; fd < max; fd++) close(fd);
}

static int child_after_clone(void *argument) {
    const spawn_request *request = argument;
    setpgid(0, 0);
    if (request->death_signal > 0) {
        prctl(PR_SET_PDEATHSIG, request->death_signal, 0, 0, 0);
        // The parent may have died between clone and prctl.
        if (getppid() != request->parent) _exit(127);
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int i = 0; i < request->default_count; i++) sigaction(request->default_signals[i], &dfl, NULL);
    close_inherited_descriptors();
    // Last: from here on a signal may run its default action in the child.
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    execvp(request->file, request->argv);
    exec_errno = errno ? errno : ENOEXEC;
    if (request->report_fd >= 0) (void)!write(request->report_fd, &exec_errno, sizeof exec_errno);
    _exit(127);
}

#ifndef KSH_SPAWN_WITH_FORK
int ksh_spawn(const char *file, char *const argv[],
              const int *default_signals, int default_count,
              int death_signal, int handlers_blocked, ksh_spawn_result *out) {
    if (ensure_child_stack() != 0) return -1;
    // Our own pid never changes (monitord never forks except in here): ask once.
    static pid_t parent;
    if (parent == 0) parent = getpid();
    spawn_request request = {file, argv, default_signals, default_count, death_signal, parent, -1};
    // No signal handler may run on the child's side of the shared memory
    // before exec: block everything across the clone unless the caller
    // already has every signal with a handler blocked (the child's mask is
    // reset right before exec either way).
    sigset_t all, previous;
    if (!handlers_blocked) {
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &previous);
    }
    exec_errno = 0;
    int pidfd = -1;
    pid_t pid = clone(child_after_clone, (char *)child_stack + CHILD_STACK_SIZE,
                      CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &request, &pidfd);
    int saved = errno;
    if (!handlers_blocked) pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (pid < 0) {
        errno = saved;
        return -1;
    }
    out->pid = pid;
    out->pidfd = pidfd;
    out->exec_errno = exec_errno;
    return 0;
}
#else
// ThreadSanitizer builds only (`swift test --sanitize=thread`): TSan cannot
// follow clone(CLONE_VM) onto a private stack, so spawn with fork, which it
// intercepts, and learn about a failed exec through a close-on-exec pipe
// (EOF: exec succeeded). pidfd_open right after fork is race-free because
// nothing else in monitord reaps. Same child set-up as above.
int ksh_spawn(const char *file, char *const argv[],
              const int *default_signals, int default_count,
              int death_signal, int handlers_blocked, ksh_spawn_result *out) {
    (void)handlers_blocked;
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -1;
    spawn_request request = {file, argv, default_signals, default_count, death_signal, getpid(), report[1]};
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(report[0]);
        close(report[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        close(report[0]);
        child_after_clone(&request);
    }
    close(report[1]);
    int pidfd = ksh_pidfd_open(pid);
    int failed = 0;
    ssize_t n;
    do { n = read(report[0], &failed, sizeof failed); } while (n < 0 && errno == EINTR);
    close(report[0]);
    out->pid = pid;
    out->pidfd = pidfd;
    out->exec_errno = n == (ssize_t)sizeof failed ? failed : 0;
    return 0;
}
#endif

int ksh_kill_group(pid_t pgid, int signo) { return kill(-pgid, signo); }

// MARK: inotify

// One inotify descriptor watching `path` for `mask`, or -1 with errno set.
static int inotify_watch(const char *path, uint32_t mask) {
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return -1;
    if (inotify_add_watch(fd, path, mask) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int ksh_inotify_watch_closes(const char *directory) {
    return inotify_watch(directory, IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
}

int ksh_inotify_watch_opens(const char *path) {
    return inotify_watch(path, IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
}

// Reads every pending event; counts an overflow, a name starting with
// `prefix`, and with `count_unnamed` an event on the watched file itself.
static int inotify_drain(int fd, const char *prefix, int count_unnamed) {
    char buffer[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    size_t prefix_length = strlen(prefix);
    int matches = 0;
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return matches;
            return -1;
        }
        if (n == 0) return matches;
        for (char *p = buffer; p < buffer + n;) {
            const struct inotify_event *event = (const struct inotify_event *)p;
            if (event->mask & IN_Q_OVERFLOW)
                matches++;
            else if (event->len == 0 ? count_unnamed : strncmp(event->name, prefix, prefix_length) == 0)
                matches++;
            p += sizeof(struct inotify_event) + event->len;
        }
    }
}

int ksh_inotify_drain(int fd, const char *prefix) { return inotify_drain(fd, prefix, 0); }

int ksh_inotify_drain_node(int fd, const char *prefix) { return inotify_drain(fd, prefix, 1); }

// MARK: process arguments

static int saved_argc;
static char *const *saved_argv;

// glibc calls ELF constructors with (argc, argv, envp), in static and
// dynamic executables alike.
__attribute__((constructor)) static void capture_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    saved_argc = argc;
    saved_argv = argv;
}

int ksh_argc(void) { return saved_argc; }
char *const *ksh_argv(void) { return saved_argv; }

// MARK: misc

int ksh_release_free_memory(void) { return malloc_trim(0); }

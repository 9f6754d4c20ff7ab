/*
 * deny-syscall: runs a command with one system call failing, as on an older
 * kernel that lacks it or one of its flags. A test rig, never shipped.
 *
 *   deny-syscall close_range ENOSYS|EINVAL [--inherit-fd N] -- COMMAND [ARGS...]
 *
 * Installs a seccomp filter (no libseccomp: a few BPF instructions) for this
 * process and its descendants: with ENOSYS every close_range(2) fails, as on
 * kernels before 5.9; with EINVAL a close_range with the CLOSE_RANGE_CLOEXEC
 * flag fails and a plain one works, as on 5.9 and 5.10. Then it checks that
 * the filter works (a close_range of its own with the flag must fail with
 * that errno), prints "denied close_range: ERRNO" on stderr, optionally
 * leaves /dev/null open without close-on-exec at descriptor N (an
 * inheritance to be caught), and execs the command. x86_64, aarch64 and
 * armv7 (the syscall number is the same).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
/* The low 32 bits of a 64-bit argument (the flags are an unsigned int). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define RIG_LOW_WORD 0
#else
#define RIG_LOW_WORD 4
#endif

#if defined(__x86_64__)
#define RIG_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define RIG_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__)
#define RIG_AUDIT_ARCH AUDIT_ARCH_ARM
#else
#error "deny-syscall: unknown architecture"
#endif

static int usage(void)
{
    fprintf(stderr, "usage: deny-syscall close_range ENOSYS|EINVAL [--inherit-fd N] -- COMMAND [ARGS...]\n");
    return 64;
}

int main(int argc, char **argv)
{
    if (argc < 5 || strcmp(argv[1], "close_range") != 0) return usage();
    int error;
    if (strcmp(argv[2], "ENOSYS") == 0) error = ENOSYS;
    else if (strcmp(argv[2], "EINVAL") == 0) error = EINVAL;
    else return usage();
    int next = 3, inherit = -1;
    if (strcmp(argv[next], "--inherit-fd") == 0) {
        if (argc < next + 4) return usage();
        inherit = atoi(argv[next + 1]);
        if (inherit < 3) return usage();
        next += 2;
    }
    if (strcmp(argv[next], "--") != 0 || next + 1 >= argc) return usage();

    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RIG_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_close_range, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2]) + RIG_LOW_WORD),
        /* EINVAL: only a call with the flag fails. */
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLOSE_RANGE_CLOEXEC, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (error & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    /* ENOSYS: every call fails, whatever its flags. */
    if (error == ENOSYS) filter[6] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0);
    struct sock_fprog program = {sizeof filter / sizeof filter[0], filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        perror("deny-syscall: seccomp");
        return 71;
    }
    errno = 0;
    if (syscall(__NR_close_range, 1000000U, 1000001U, CLOSE_RANGE_CLOEXEC) != -1 || errno != error) {
        fprintf(stderr, "deny-syscall: the filter did not take: close_range gave errno %d\n", errno);
        return 71;
    }
    fprintf(stderr, "denied close_range: %s\n", argv[2]);
    if (inherit >= 0) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0 || (fd != inherit && dup2(fd, inherit) != inherit)) {
            perror("deny-syscall: open /dev/null");
            return 71;
        }
        if (fd != inherit) close(fd);
    }
    execvp(argv[next + 1], argv + next + 1);
    fprintf(stderr, "deny-syscall: cannot execute %s: %s\n", argv[next + 1], strerror(errno));
    return 127;
}

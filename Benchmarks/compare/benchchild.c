/*
 * benchchild: the child every supervisor in Benchmarks/compare runs, so all of
 * them supervise the exact same program and the script can observe it.
 *
 * Built by Benchmarks/compare.sh with `cc -O2`. Three uses:
 *
 *   benchchild --launch T0FILE PROG [ARGS...]
 *       Write CLOCK_MONOTONIC (ns) to T0FILE, then execvp PROG in the same
 *       process. The script starts each supervisor through this, so "startup"
 *       does not include Python's own fork/exec cost.
 *
 *   (no arguments; mode from the environment, which every supervisor passes
 *   through to `./run` / COMMAND unchanged)
 *   BENCHCHILD_MODE=stamp BENCHCHILD_FILE=F BENCHCHILD_EXEC=PROG
 *       Write CLOCK_MONOTONIC (ns) to F at entry to main, then execvp PROG
 *       (default "sleep") with argument "1000". Healthy child: a `sleep 1000`
 *       whose exec time is recorded.
 *   BENCHCHILD_MODE=fail BENCHCHILD_FILE=F
 *       Append one byte to F (O_APPEND: atomic) and _exit(1). Crash-looping
 *       child: like /bin/false, and the file size counts the restarts.
 *   BENCHCHILD_MODE=failn BENCHCHILD_FILE=F BENCHCHILD_COUNT=N
 *       Like fail, but exit 0 once F holds N bytes: exactly N starts (N-1
 *       failures), after which monitord's --restart on-failure ends the
 *       supervision. For counting a whole daemon's instructions under
 *       callgrind (Benchmarks/callgrind.sh).
 *
 * Arguments are ignored in env mode (s6-supervise, runsv and supervise exec
 * `./run` with arguments of their own).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void write_stamp(const char *path, long long t) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld\n", t);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (write(fd, buf, (size_t)n) != n) { close(fd); return; }
    close(fd);
    rename(tmp, path); /* the reader never sees a half-written stamp */
}

int main(int argc, char **argv) {
    long long t = now_ns();
    if (argc >= 4 && strcmp(argv[1], "--launch") == 0) {
        write_stamp(argv[2], t);
        execvp(argv[3], argv + 3);
        perror("benchchild: exec");
        return 127;
    }
    const char *mode = getenv("BENCHCHILD_MODE");
    const char *file = getenv("BENCHCHILD_FILE");
    if (!mode || !file) {
        fprintf(stderr, "benchchild: BENCHCHILD_MODE and BENCHCHILD_FILE must be set\n");
        return 2;
    }
    if (strcmp(mode, "fail") == 0) {
        int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) { (void)!write(fd, "x", 1); close(fd); }
        _exit(1);
    }
    if (strcmp(mode, "failn") == 0) {
        const char *n = getenv("BENCHCHILD_COUNT");
        long want = n ? atol(n) : 1, have = 0;
        int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            (void)!write(fd, "x", 1);
            have = lseek(fd, 0, SEEK_END);
            close(fd);
        }
        _exit(have >= want ? 0 : 1);
    }
    if (strcmp(mode, "stamp") == 0) {
        write_stamp(file, t);
        const char *prog = getenv("BENCHCHILD_EXEC");
        if (!prog || !*prog) prog = "sleep";
        char *args[] = {(char *)prog, "1000", NULL};
        execvp(prog, args);
        perror("benchchild: exec");
        return 127;
    }
    fprintf(stderr, "benchchild: unknown BENCHCHILD_MODE '%s'\n", mode);
    return 2;
}

/*
 * monitordtest: a test-only alsa-lib I/O ("ioplug") PCM plugin.
 *
 * There is no sound hardware on the build machines, yet monitord's readiness
 * gate has to be tested against a device that is busy, refuses parameters,
 * plays at a realistic pace or never drains. alsa-lib's own `null` and
 * `file` plugins accept everything instantly, so this plugin fakes a device
 * whose behaviour is chosen at run time by a state file.
 *
 * Configuration (a private file named in ALSA_CONFIG_PATH):
 *
 *   pcm_type.monitordtest { lib "/abs/path/libMonitordTestPCM.so" }
 *   pcm.!lb0c {                       # `!` replaces a PCM of the same name;
 *       type monitordtest             # without it the definitions merge (EINVAL)
 *       state "/tmp/x/state-lb0c"     # read on every open (grammar below)
 *       device_file "/tmp/x/snd/pcmC0D0p"   # optional; flock()ed while open
 *   }
 *
 * State file grammar: the first line that is not blank and does not start
 * with '#' holds
 *
 *   WORD [ERRNO]
 *
 * where ERRNO is a positive decimal number or one of EBUSY EINVAL EIO ENODEV
 * ENOENT ENXIO EPERM EACCES EAGAIN ENOMEM (default EIO). WORD is one of
 *
 *   ok              open and play at real time: the poll descriptor is a
 *                   timerfd that ticks once per period, and the hardware
 *                   pointer advances one period per tick. 1 s of audio with
 *                   a 0.5 s buffer therefore takes ~0.5 s to write.
 *   never-ready     open, accept the first buffer, then never consume it and
 *                   never become writable again (the probe's timeout path).
 *   fail-open       snd_pcm_open fails with -ERRNO.
 *   fail-hw         the hw_params callback fails with -ERRNO.
 *   fail-sw         the application's snd_pcm_sw_params fails with -ERRNO.
 *                   snd_pcm_hw_params installs default sw params itself
 *                   first; that call is let through, or this would surface
 *                   at snd_pcm_hw_params too.
 *   fail-prepare    every prepare fails with -ERRNO. snd_pcm_hw_params
 *                   prepares internally, so like a real driver this surfaces
 *                   at snd_pcm_hw_params, not at snd_pcm_prepare.
 *   fail-reprepare  the first prepare (inside snd_pcm_hw_params) succeeds,
 *                   every later one fails: reaches an explicit snd_pcm_prepare.
 *   fail-write      every transfer fails with -ERRNO.
 *   xrun-once       like ok, but the first pointer query after the stream
 *                   starts reports an underrun (-EPIPE from writes/avail).
 *
 * A missing or empty state file means `ok`; an unknown word fails the open
 * with EINVAL so that a typo in a test cannot pass silently.
 *
 * Locking: when device_file is set, every open that gets past `fail-open`
 * opens it (creating it) and takes flock(LOCK_EX | LOCK_NB). If another open
 * file description holds the lock, the open fails with EBUSY, like a real
 * hw device that is already in use. The descriptor stays open until
 * snd_pcm_close, so /proc/PID/fd of the holder links into the directory of
 * device_file, just as a real player's links into /dev/snd.
 *
 * Build note: alsa-lib only exports the versioned open symbol when PIC is
 * defined, hence `-DPIC` in Package.swift.
 */
#include "MonitordTestPCM.h"

#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum mdt_mode {
    MDT_OK,
    MDT_NEVER_READY,
    MDT_FAIL_OPEN,
    MDT_FAIL_HW,
    MDT_FAIL_SW,
    MDT_FAIL_PREPARE,
    MDT_FAIL_REPREPARE,
    MDT_FAIL_WRITE,
    MDT_XRUN_ONCE,
};

struct mdt_pcm {
    snd_pcm_ioplug_t io;
    enum mdt_mode mode;
    int error;              /* positive errno for the fail-* modes */
    int timer_fd;           /* the poll descriptor */
    int lock_fd;            /* device_file, flock()ed; -1 without one */
    int running;
    int xrun_reported;
    unsigned prepares;
    unsigned sw_params_calls;
    struct timespec started;
    snd_pcm_uframes_t written;  /* frames transferred since the last prepare */
    snd_pcm_uframes_t consumed; /* frames "played" since the last prepare */
};

/* ---- state file ------------------------------------------------------- */

static const struct { const char *name; int value; } mdt_errno_names[] = {
    { "EBUSY", EBUSY }, { "EINVAL", EINVAL }, { "EIO", EIO },
    { "ENODEV", ENODEV }, { "ENOENT", ENOENT }, { "ENXIO", ENXIO },
    { "EPERM", EPERM }, { "EACCES", EACCES }, { "EAGAIN", EAGAIN },
    { "ENOMEM", ENOMEM },
};

static const struct { const char *word; enum mdt_mode mode; } mdt_words[] = {
    { "ok", MDT_OK }, { "never-ready", MDT_NEVER_READY },
    { "fail-open", MDT_FAIL_OPEN }, { "fail-hw", MDT_FAIL_HW },
    { "fail-sw", MDT_FAIL_SW }, { "fail-prepare", MDT_FAIL_PREPARE },
    { "fail-reprepare", MDT_FAIL_REPREPARE }, { "fail-write", MDT_FAIL_WRITE },
    { "xrun-once", MDT_XRUN_ONCE },
};

static int mdt_parse_errno(const char *text)
{
    char *end = NULL;
    long number = strtol(text, &end, 10);
    if (end != text && *end == '\0' && number > 0 && number < 4096)
        return (int)number;
    for (size_t i = 0; i < sizeof(mdt_errno_names) / sizeof(mdt_errno_names[0]); i++)
        if (strcmp(text, mdt_errno_names[i].name) == 0)
            return mdt_errno_names[i].value;
    return -1;
}

/* Returns 0 and fills mode/error, or a negative errno for a malformed file. */
static int mdt_read_state(const char *path, enum mdt_mode *mode, int *error)
{
    *mode = MDT_OK;
    *error = EIO;
    if (path == NULL)
        return 0;
    FILE *file = fopen(path, "re");
    if (file == NULL)
        return 0; /* documented: no state file means ok */
    char line[256];
    int result = 0;
    while (fgets(line, sizeof(line), file) != NULL) {
        char word[64] = "", number[64] = "";
        int fields = sscanf(line, "%63s %63s", word, number);
        if (fields < 1 || word[0] == '#')
            continue;
        result = -EINVAL;
        for (size_t i = 0; i < sizeof(mdt_words) / sizeof(mdt_words[0]); i++)
            if (strcmp(word, mdt_words[i].word) == 0) {
                *mode = mdt_words[i].mode;
                result = 0;
            }
        if (result == 0 && fields == 2) {
            int value = mdt_parse_errno(number);
            if (value < 0)
                result = -EINVAL;
            else
                *error = value;
        }
        break;
    }
    fclose(file);
    return result;
}

/* ---- timing ------------------------------------------------------------ */

static uint64_t mdt_elapsed_frames(const struct mdt_pcm *pcm)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ns = (int64_t)(now.tv_sec - pcm->started.tv_sec) * 1000000000LL
               + (now.tv_nsec - pcm->started.tv_nsec);
    if (ns < 0)
        ns = 0;
    return (uint64_t)ns * pcm->io.rate / 1000000000ULL;
}

/* Advances `consumed` in whole periods, as a DMA engine interrupting once per
 * period would. Returns -EPIPE when the device wanted data that never came. */
static int mdt_advance(struct mdt_pcm *pcm)
{
    if (!pcm->running || pcm->mode == MDT_NEVER_READY)
        return 0;
    snd_pcm_uframes_t period = pcm->io.period_size;
    uint64_t due = mdt_elapsed_frames(pcm) / period * period;
    if (due > pcm->written)
        return -EPIPE;
    if (due > pcm->consumed)
        pcm->consumed = (snd_pcm_uframes_t)due;
    return 0;
}

static int mdt_arm(struct mdt_pcm *pcm, const struct itimerspec *spec)
{
    if (timerfd_settime(pcm->timer_fd, 0, spec, NULL) < 0)
        return -errno;
    return 0;
}

/* ---- callbacks ----------------------------------------------------------- */

static int mdt_start(snd_pcm_ioplug_t *io)
{
    struct mdt_pcm *pcm = io->private_data;
    clock_gettime(CLOCK_MONOTONIC, &pcm->started);
    pcm->running = 1;
    if (pcm->mode == MDT_NEVER_READY) {
        /* Disarm: the descriptor never becomes readable again. */
        struct itimerspec off = { { 0, 0 }, { 0, 0 } };
        return mdt_arm(pcm, &off);
    }
    uint64_t period_ns = (uint64_t)io->period_size * 1000000000ULL / io->rate;
    struct itimerspec tick = {
        .it_interval = { (time_t)(period_ns / 1000000000ULL), (long)(period_ns % 1000000000ULL) },
        .it_value = { (time_t)(period_ns / 1000000000ULL), (long)(period_ns % 1000000000ULL) },
    };
    return mdt_arm(pcm, &tick);
}

static int mdt_stop(snd_pcm_ioplug_t *io)
{
    struct mdt_pcm *pcm = io->private_data;
    struct itimerspec off = { { 0, 0 }, { 0, 0 } };
    pcm->running = 0;
    return mdt_arm(pcm, &off);
}

static snd_pcm_sframes_t mdt_pointer(snd_pcm_ioplug_t *io)
{
    struct mdt_pcm *pcm = io->private_data;
    if (pcm->mode == MDT_XRUN_ONCE && pcm->running && !pcm->xrun_reported) {
        pcm->xrun_reported = 1;
        return -EPIPE;
    }
    int err = mdt_advance(pcm);
    if (err < 0)
        return err;
    return (snd_pcm_sframes_t)(pcm->consumed % io->buffer_size);
}

static snd_pcm_sframes_t mdt_transfer(snd_pcm_ioplug_t *io,
                                      const snd_pcm_channel_area_t *areas,
                                      snd_pcm_uframes_t offset,
                                      snd_pcm_uframes_t size)
{
    (void)areas;
    (void)offset;
    struct mdt_pcm *pcm = io->private_data;
    if (pcm->mode == MDT_FAIL_WRITE)
        return -pcm->error;
    pcm->written += size; /* the samples themselves are discarded */
    return (snd_pcm_sframes_t)size;
}

static int mdt_hw_params(snd_pcm_ioplug_t *io, snd_pcm_hw_params_t *params)
{
    (void)params;
    struct mdt_pcm *pcm = io->private_data;
    return pcm->mode == MDT_FAIL_HW ? -pcm->error : 0;
}

static int mdt_sw_params(snd_pcm_ioplug_t *io, snd_pcm_sw_params_t *params)
{
    (void)params;
    struct mdt_pcm *pcm = io->private_data;
    pcm->sw_params_calls++;
    return pcm->mode == MDT_FAIL_SW && pcm->sw_params_calls > 1 ? -pcm->error : 0;
}

static int mdt_prepare(snd_pcm_ioplug_t *io)
{
    struct mdt_pcm *pcm = io->private_data;
    pcm->prepares++;
    if (pcm->mode == MDT_FAIL_PREPARE ||
        (pcm->mode == MDT_FAIL_REPREPARE && pcm->prepares > 1))
        return -pcm->error;
    pcm->running = 0;
    pcm->written = 0;
    pcm->consumed = 0;
    /* A prepared playback stream has an empty buffer, so it is writable at
     * once: make the descriptor readable right away (1 ns one-shot). */
    struct itimerspec now = { { 0, 0 }, { 0, 1 } };
    return mdt_arm(pcm, &now);
}

/* alsa-lib calls this with the descriptor's raw revents; report POLLOUT only
 * when a period of space is free, and consume the timerfd's expirations so a
 * level-triggered epoll does not spin. */
static int mdt_poll_revents(snd_pcm_ioplug_t *io, struct pollfd *pfd,
                            unsigned int nfds, unsigned short *revents)
{
    struct mdt_pcm *pcm = io->private_data;
    *revents = 0;
    if (nfds < 1)
        return -EINVAL;
    if (pfd[0].revents & (POLLERR | POLLNVAL | POLLHUP)) {
        *revents = POLLERR;
        return 0;
    }
    if (!(pfd[0].revents & POLLIN))
        return 0;
    uint64_t expirations;
    while (read(pcm->timer_fd, &expirations, sizeof(expirations)) < 0 && errno == EINTR) {}
    if (pcm->mode == MDT_NEVER_READY && pcm->running)
        return 0;
    if (mdt_advance(pcm) < 0) {
        *revents = POLLOUT | POLLERR; /* the write that follows reports -EPIPE */
        return 0;
    }
    snd_pcm_uframes_t queued = pcm->written - pcm->consumed;
    snd_pcm_uframes_t space = queued >= io->buffer_size ? 0 : io->buffer_size - queued;
    if (space >= io->period_size || (!pcm->running && space > 0))
        *revents = POLLOUT;
    return 0;
}

static int mdt_close(snd_pcm_ioplug_t *io)
{
    struct mdt_pcm *pcm = io->private_data;
    if (pcm->timer_fd >= 0)
        close(pcm->timer_fd);
    if (pcm->lock_fd >= 0)
        close(pcm->lock_fd); /* releases the flock */
    free(pcm);
    return 0;
}

static const snd_pcm_ioplug_callback_t mdt_callbacks = {
    .start = mdt_start,
    .stop = mdt_stop,
    .pointer = mdt_pointer,
    .transfer = mdt_transfer,
    .close = mdt_close,
    .hw_params = mdt_hw_params,
    .sw_params = mdt_sw_params,
    .prepare = mdt_prepare,
    .poll_revents = mdt_poll_revents,
};

/* ---- open ------------------------------------------------------------------ */

static int mdt_constrain(snd_pcm_ioplug_t *io)
{
    static const unsigned int accesses[] = { SND_PCM_ACCESS_RW_INTERLEAVED };
    static const unsigned int formats[] = {
        SND_PCM_FORMAT_S16_LE, SND_PCM_FORMAT_S24_LE, SND_PCM_FORMAT_S32_LE,
    };
    int err;
    if ((err = snd_pcm_ioplug_set_param_list(io, SND_PCM_IOPLUG_HW_ACCESS, 1, accesses)) < 0 ||
        (err = snd_pcm_ioplug_set_param_list(io, SND_PCM_IOPLUG_HW_FORMAT, 3, formats)) < 0 ||
        (err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_CHANNELS, 1, 8)) < 0 ||
        (err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_RATE, 8000, 192000)) < 0 ||
        (err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_PERIODS, 2, 64)) < 0 ||
        (err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_PERIOD_BYTES, 256, 1 << 20)) < 0 ||
        (err = snd_pcm_ioplug_set_param_minmax(io, SND_PCM_IOPLUG_HW_BUFFER_BYTES, 1024, 4 << 20)) < 0)
        return err;
    return 0;
}

static int mdt_lock(const char *device_file)
{
    int fd = open(device_file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int err = errno == EWOULDBLOCK ? EBUSY : errno;
        close(fd);
        return -err;
    }
    return fd;
}

SND_PCM_PLUGIN_DEFINE_FUNC(monitordtest)
{
    (void)root;
    const char *state_path = NULL, *device_file = NULL;
    snd_config_iterator_t i, next;
    snd_config_for_each(i, next, conf) {
        snd_config_t *node = snd_config_iterator_entry(i);
        const char *id;
        if (snd_config_get_id(node, &id) < 0)
            continue;
        if (strcmp(id, "comment") == 0 || strcmp(id, "type") == 0 || strcmp(id, "hint") == 0)
            continue;
        if (strcmp(id, "state") == 0) {
            if (snd_config_get_string(node, &state_path) < 0)
                return -EINVAL;
            continue;
        }
        if (strcmp(id, "device_file") == 0) {
            if (snd_config_get_string(node, &device_file) < 0)
                return -EINVAL;
            continue;
        }
        SNDERR("monitordtest: unknown field %s", id);
        return -EINVAL;
    }
    if (stream != SND_PCM_STREAM_PLAYBACK)
        return -EINVAL;

    enum mdt_mode behaviour;
    int error;
    int err = mdt_read_state(state_path, &behaviour, &error);
    if (err < 0)
        return err;
    if (behaviour == MDT_FAIL_OPEN)
        return -error;

    struct mdt_pcm *pcm = calloc(1, sizeof(*pcm));
    if (pcm == NULL)
        return -ENOMEM;
    pcm->mode = behaviour;
    pcm->error = error;
    pcm->lock_fd = -1;
    pcm->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (pcm->timer_fd < 0) {
        err = -errno;
        free(pcm);
        return err;
    }
    if (device_file != NULL) {
        pcm->lock_fd = mdt_lock(device_file);
        if (pcm->lock_fd < 0) {
            err = pcm->lock_fd;
            close(pcm->timer_fd);
            free(pcm);
            return err;
        }
    }

    pcm->io.version = SND_PCM_IOPLUG_VERSION;
    pcm->io.name = "monitord test PCM";
    pcm->io.flags = SND_PCM_IOPLUG_FLAG_MONOTONIC;
    pcm->io.poll_fd = pcm->timer_fd;
    pcm->io.poll_events = POLLIN;
    pcm->io.mmap_rw = 0;
    pcm->io.callback = &mdt_callbacks;
    pcm->io.private_data = pcm;

    err = snd_pcm_ioplug_create(&pcm->io, name, stream, mode);
    if (err < 0) {
        mdt_close(&pcm->io);
        return err;
    }
    err = mdt_constrain(&pcm->io);
    if (err < 0) {
        snd_pcm_ioplug_delete(&pcm->io); /* calls mdt_close */
        return err;
    }
    *pcmp = pcm->io.pcm;
    return 0;
}

SND_PCM_PLUGIN_SYMBOL(monitordtest);

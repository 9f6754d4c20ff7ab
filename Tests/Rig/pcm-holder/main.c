/*
 * pcm-holder: a stand-in for a player such as squeezelite, for tests.
 *
 *   pcm-holder -o PCM [--ignore-term] [any other arguments, ignored]
 *
 * Opens PCM for playback, sets hardware parameters and keeps it open (so the
 * monitordtest plugin's flock on its device file stays held) until SIGTERM
 * or SIGINT, then closes it and exits 0. With --ignore-term SIGTERM is
 * ignored, so only SIGINT or SIGKILL end it (for SIGKILL escalation tests).
 *
 * Once the PCM is open it prints "ready" on stdout, so a test can wait for
 * the device to be held instead of sleeping. If the open fails it prints the
 * reason on stderr and exits 1, like a player that cannot get its device.
 *
 * Tests copy this binary under the name `squeezelite`; the arguments are
 * parsed loosely (`-o PCM` or `-oPCM`, everything else skipped) so that a
 * squeezelite-like command line works unchanged.
 */
#include <alsa/asoundlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *device = NULL;
    int ignore_term = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ignore-term") == 0)
            ignore_term = 1;
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            device = argv[++i];
        else if (strncmp(argv[i], "-o", 2) == 0 && argv[i][2] != '\0' && device == NULL)
            device = argv[i] + 2;
    }
    if (device == NULL) {
        fprintf(stderr, "usage: %s -o PCM [--ignore-term]\n", argv[0]);
        return 2;
    }

    /* Block the stop signals before opening, so one that arrives while the
     * device is being set up is not lost: sigwait picks it up afterwards. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    if (ignore_term)
        signal(SIGTERM, SIG_IGN);
    else
        sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, NULL);

    snd_pcm_t *pcm = NULL;
    int err = snd_pcm_open(&pcm, device, SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK);
    if (err < 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", argv[0], device, snd_strerror(err));
        return 1;
    }
    err = snd_pcm_set_params(pcm, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED,
                             2, 48000, 1, 500000);
    if (err < 0) {
        fprintf(stderr, "%s: cannot set parameters on %s: %s\n", argv[0], device, snd_strerror(err));
        snd_pcm_close(pcm);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);

    int received = 0;
    while (sigwait(&stop, &received) != 0) {}

    /* Close, never drain: the holder only exists to keep the device busy. */
    snd_pcm_close(pcm);
    return 0;
}

/*
 * go-librespot (stand-in): what go-librespot does with its ALSA device and
 * its ports, for the guest rig. go-librespot is not packaged by Debian; this
 * is written from its source (github.com/devgianlu/go-librespot at commit
 * 9c45328634da5f3b37e8f81433523956aabb91ce: cmd/daemon/main.go,
 * output/driver-alsa.go, player/player.go), not a player.
 *
 *   go-librespot --config_dir DIR      (as AmpliPi's spotify_connect.py runs it)
 *
 * What it reproduces:
 *  - DIR/config.yml names the device (audio_device: NAME) and the API
 *    server (server: enabled: true, port: N), as AmpliPi writes it. With the
 *    server enabled it listens on 127.0.0.1:N at start; when that fails (a
 *    leftover instance with the same config still has the port) it logs
 *    "failed creating api server" and exits 1, like logrus' Fatal.
 *  - It does not open the device at start: go-librespot creates its ALSA
 *    output when a track is loaded and opens the PCM in Resume (setupPcm:
 *    snd_pcm_open(device, PLAYBACK, 0), blocking), closes it in Pause. Here
 *    SIGUSR1 is "a controller pressed play" (Resume) and SIGUSR2 is "pause".
 *  - When snd_pcm_open fails (EBUSY: "Device or resource busy") the error
 *    goes back to the request that caused it and is logged ("failed handling
 *    dealer request: ... ALSA error at snd_pcm_open: Device or resource
 *    busy"); the process keeps running and does not retry until the next
 *    play request.
 *  - While playing it writes silence (go-librespot writes decoded audio;
 *    the device cannot tell).
 *  - SIGTERM or SIGINT: closes the device, exits 0.
 * What it does not: Spotify, zeroconf, the mixer (AmpliPi sets
 * mixer_device ''), format negotiation beyond S16_LE stereo 44100.
 *
 * Built static by scripts/vm-test against the alsa-lib that
 * scripts/build-release builds for the guest's architecture.
 */
#include <alsa/asoundlib.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t play_requests, pause_requests, stopping;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        play_requests++;
    else if (sig == SIGUSR2)
        pause_requests++;
    else
        stopping = 1;
}

static void say(const char *level, const char *text)
{
    fprintf(stderr, "level=%s msg=\"%s\"\n", level, text);
    fflush(stderr);
}

/* The value after "KEY:" on a line of config.yml (AmpliPi writes it with
 * yaml.dump: one key per line, nested keys indented). */
static int config_value(const char *path, const char *key, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    size_t klen = strlen(key);
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ')
            p++;
        if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
            p += klen + 1;
            while (*p == ' ' || *p == '\'' || *p == '"')
                p++;
            size_t n = strcspn(p, "'\"\r\n");
            if (n >= size)
                n = size - 1;
            memcpy(out, p, n);
            out[n] = 0;
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    const char *config_dir = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--config_dir") == 0 && i + 1 < argc)
            config_dir = argv[++i];
    if (!config_dir) {
        say("fatal", "failed loading config: no --config_dir");
        return 1;
    }
    char path[1024], device[256] = "default", port[32] = "", enabled[16] = "";
    snprintf(path, sizeof path, "%s/config.yml", config_dir);
    config_value(path, "audio_device", device, sizeof device);
    config_value(path, "enabled", enabled, sizeof enabled);
    config_value(path, "port", port, sizeof port);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a blocked write returns */
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* The signals are blocked except while waiting (sigsuspend) or writing,
     * so a request that arrives between a check and the wait is not lost. */
    sigset_t requests, waiting;
    sigemptyset(&requests);
    sigaddset(&requests, SIGUSR1);
    sigaddset(&requests, SIGUSR2);
    sigaddset(&requests, SIGTERM);
    sigaddset(&requests, SIGINT);
    sigprocmask(SIG_BLOCK, &requests, &waiting);

    char text[512];
    int listener = -1;
    if (strcmp(enabled, "true") == 0 && port[0]) {
        listener = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr;
        memset(&addr, 0, sizeof addr);
        addr.sin_family = AF_INET;
        addr.sin_port = htons((unsigned short)atoi(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 8) < 0) {
            snprintf(text, sizeof text, "failed creating api server: listen tcp :%s: bind: %s", port, strerror(errno));
            say("fatal", text);
            return 1;
        }
    }
    snprintf(text, sizeof text, "go-librespot stand-in, device %s, api port %s", device, port[0] ? port : "none");
    say("info", text);

    snd_pcm_t *pcm = NULL;
    static short silence[2 * 1024];
    while (!stopping) {
        if (pause_requests) {
            pause_requests = 0;
            if (pcm) {
                snd_pcm_close(pcm);
                pcm = NULL;
                say("info", "paused: closed the output device");
            }
        }
        if (play_requests) {
            play_requests = 0;
            if (!pcm) {
                int err = snd_pcm_open(&pcm, device, SND_PCM_STREAM_PLAYBACK, 0);
                if (err == 0)
                    err = snd_pcm_set_params(pcm, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED, 2, 44100, 1, 500000);
                if (err < 0) {
                    snprintf(text, sizeof text,
                             "failed handling dealer request: failed loading current track (transfer): "
                             "failed setting stream: ALSA error at snd_pcm_open: %s", snd_strerror(err));
                    say("warning", text);
                    if (pcm)
                        snd_pcm_close(pcm);
                    pcm = NULL;
                } else {
                    say("info", "playing: opened the output device");
                }
            }
        }
        if (pcm) {
            sigprocmask(SIG_SETMASK, &waiting, NULL);
            snd_pcm_sframes_t n = snd_pcm_writei(pcm, silence, 1024);
            sigprocmask(SIG_BLOCK, &requests, NULL);
            if (n < 0 && n != -EINTR)
                snd_pcm_recover(pcm, (int)n, 1);
        } else {
            sigsuspend(&waiting);
        }
    }
    if (pcm)
        snd_pcm_close(pcm);
    if (listener >= 0)
        close(listener);
    say("info", "exiting");
    return 0;
}

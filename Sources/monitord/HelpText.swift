enum HelpText {
    static let text = """
    usage: monitord [OPTIONS] [--] COMMAND [ARGS...]

    Runs COMMAND and keeps it running: restarts it with exponential backoff when
    it fails, forwards signals to it, and stops it cleanly. Options end at the
    first word that is not an option, so `monitord squeezelite -o lb0c` gives
    -o to squeezelite.

    Restart policy:
      --restart on-failure|always
                              on-failure (default): exit 0 ends supervision;
                              always: exit 0 restarts too, through the same
                              backoff and gate (for players that exit 0 when
                              their output cannot be opened, e.g. squeezelite)
      --backoff-initial DUR   first restart delay after a fast failure (default 2s)
      --backoff-max DUR       cap of the doubling delay (default 30s)
      --backoff-reset DUR     a run this long is healthy and resets the delay (default 10s)
      --stop-timeout DUR      after SIGTERM/SIGINT/SIGQUIT, wait this long before
                              SIGKILLing the child's process group (default 3s)

    ALSA readiness gate (for players that write to a loopback, `-o lb*`):
      --alsa-gate auto|off    auto (default): gate when COMMAND has `-o lb...`
      --alsa-device PCM       gate on PCM whatever the command line says
      --probe-duration DUR    silence written by each probe; it succeeds once that
                              is written and two periods were played (default 50ms)
      --probe-retry DUR       first wait after a failed probe (default 50ms, at
                              most the interval)
      --probe-interval DUR    longest wait between failed probes: waits grow from
                              the retry with the time waited (default 4s)
      --probe-rate HZ         probe sample rate (default 48000)
      --probe-channels N      probe channels (default 2)
      --stale-after N         failed probes before ending a stale player of the
                              same name and `-o` device (default 20, ~6 s)
      --holder-grace DUR      a device ready again within this is one info line
                              (e.g. dmix state a stopped player left, cleared by
                              the next open); still unavailable after it: a
                              warning naming holders or dmix state (default 1s)
      --snd-dir DIR           where device nodes are, for naming holders and
                              noticing a released device (default /dev/snd)

    Status:
      --status-file PATH      keep PATH updated with one key=value line per state

    Output:
      -q, --quiet             warnings and errors only
      -v, --verbose           also debug lines (forwarded signals, ...)
      -h, --help              this text
          --version           print the version

    DUR is a number with a unit: 150ms, 2s, 1.5s, 1m, 1m30s, 1h (also us, ns); a
    bare number is seconds; 0 means no delay; at most 24h. A value may also
    follow an equals sign: --stop-timeout=5s.

    Exit status:
      0    COMMAND exited 0 (--restart on-failure), or monitord was stopped by
           SIGTERM/SIGINT/SIGQUIT
      64   usage error (bad option or value, missing COMMAND)
      70   internal error (a system facility monitord needs failed)
      126  COMMAND was found but cannot be executed (first start only)
      127  COMMAND was not found (first start only)

    """
}

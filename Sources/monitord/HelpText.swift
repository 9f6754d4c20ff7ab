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
      --holder-grace DUR      a device ready again within this is one info line
                              (e.g. dmix state a stopped player left, cleared by
                              the next open); still unavailable after it: a
                              warning naming holders or dmix state (default 1s)
      --snd-dir DIR           where device nodes are, for naming holders and
                              noticing a released device (default /dev/snd)

    Stale players (a leftover instance of this player, in the gate's way):
      --stale-after N         failed probes before one is looked for and ended,
                              SIGTERM then SIGKILL (default 20, ~6 s)
      --stale-match ARG       it has ARG as a whole element of its argv after
                              argv[0]; repeatable: every ARG, in any order
                              (`--x=v` is one element; `ch2` is not `ch21`)
    It also runs COMMAND's executable (found through PATH and symbolic links:
    python3 may be /usr/bin/python3.11), has monitord's uid, and was not started
    by monitord. Without --stale-match: a gate found from `-o lb*` ends a process
    of the same name with the same last -o; with --alsa-device, holders are
    named and nothing is ended. An interpreter's name is its executable's, so
    `python3` alone says nothing: when COMMAND's first non-option argument is a
    file (a script), that path is always part of the identity; the script path
    is what tells two python3 processes apart. Examples:
      monitord --alsa-device lb2c \\
          --stale-match /home/pi/.config/amplipi/srcs/v2/shairport.conf -- \\
          shairport-sync -c /home/pi/.config/amplipi/srcs/v2/shairport.conf
      monitord --alsa-device ch2 --stale-match ch2 \\
          --stale-match /home/pi/amplipi-dev/streams/runvlc.py -- \\
          python3 /home/pi/amplipi-dev/streams/runvlc.py URL ch2

    Status:
      --status-file PATH      keep PATH updated with one key=value line per state;
                              its summary= is the sentence STATUS= shows

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

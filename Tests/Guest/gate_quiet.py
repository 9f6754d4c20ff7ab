"""The gate's priorities in the guest: the gate on AmpliPi's loopback layout, run as
a non-root user (uid 1000, group audio), as AmpliPi runs its players.

  gate-quiet-leftover    what the EINVAL after a stop is: squeezelite's dmix
                         state left behind (ipcs), met once however much
                         later, cleared by that open; and what a second
                         dmix client gets while the first still plays
  gate-quiet-reassign    rig.quiet_rounds (20) re-assigns of squeezelite under
                         monitord: no warning line; each hiccup one info line
                         naming the leftover; the lines per re-assign counted
  gate-quiet-shared-key  AmpliPi's shared ipc_key 1028 gives one key per card
                         (no collision); a key that does collide (ipc_key 5124
                         on card 2 = 1028 on card 3, collide.conf) wedges lb1c
                         while an aplay plays to lb0k, and the warning names
                         that player and the shared key
  gate-quiet-holder      both substreams of lb0c's hw device held by aplay:
                         the warning after the grace names them as holders;
                         a squeezelite on lb1c is context only

Not in scripts/vm-test's default list: selected with --scenario gate-quiet.
Every check reads monitord's own priorities: JOURNAL_STREAM names the log
file, so each monitord line starts with <N> (sd-daemon(3)).
"""
import os
import re
import signal
import subprocess
import time

USER = 1000
AUDIO = 29  # Debian's audio group
# ipc_key 1028 + (card << 12), as alsa-lib's pcm_direct.c derives it.
KEY = {"lb0c": 0x2404, "lb1c": 0x3404, "lb2c": 0x4404}
COLLIDE_CONF = "/usr/share/alsa/alsa.conf:/rig/collide.conf"


def prepare_devices():
    """What udev does on a real system: /dev/snd/* group audio, 0660
    (devtmpfs alone leaves them root's, 0600)."""
    for name in os.listdir("/dev/snd"):
        path = "/dev/snd/" + name
        os.chown(path, 0, AUDIO)
        os.chmod(path, 0o660)


def start_as_user(rig, p, argv, name, env=None):
    p.count += 1
    path = f"{rig.LOGDIR}/{p.scenario}-{p.count}-{name}.log"
    log = open(path, "wb")
    info = os.fstat(log.fileno())
    environment = dict(os.environ, HOME="/tmp", JOURNAL_STREAM=f"{info.st_dev}:{info.st_ino}")
    environment.update(env or {})
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            env=environment, user=USER, group=AUDIO, extra_groups=[AUDIO])
    proc.log_path = path
    log.close()
    p.started.append(proc)
    rig.note(f"started {name} pid {proc.pid} as uid {USER}: {' '.join(argv)}")
    return proc


def monitord_lines(proc):
    """[(priority, text)] of monitord's own lines (child output has no <N>)."""
    with open(proc.log_path, errors="replace") as f:
        lines = f.read().splitlines()
    return [(int(m.group(1)), m.group(2)) for m in (re.match(r"<(\d)>(.*)", line) for line in lines) if m]


def sysvipc_row(table, key):
    """/proc/sysvipc/TABLE's row for key, by column name, or None."""
    with open(f"/proc/sysvipc/{table}") as f:
        header = f.readline().split()
        for line in f:
            fields = dict(zip(header, line.split()))
            if int(fields["key"]) == key:
                return fields
    return None


def shm(key):
    """/proc/sysvipc/shm's row for key: {shmid, cpid, lpid, nattch}, or None."""
    fields = sysvipc_row("shm", key)
    return {k: int(fields[k]) for k in ("shmid", "cpid", "lpid", "nattch")} if fields else None


def sem(key):
    fields = sysvipc_row("sem", key)
    return int(fields["semid"]) if fields else None


def ipc_keys():
    with open("/proc/sysvipc/shm") as f:
        header = f.readline().split()
        rows = [dict(zip(header, line.split())) for line in f]
    return ",".join(f"{int(r['key']):#06x}/nattch{r['nattch']}" for r in rows) or "none"


def aplay(device, seconds=1, env=None):
    """One open of DEVICE by aplay as the user: (exit code, first error line)."""
    environment = dict(os.environ, HOME="/tmp")
    environment.update(env or {})
    run = subprocess.run(["aplay", "-q", "-D", device, "-t", "raw", "-f", "S16_LE", "-r", "48000", "-c", "2",
                          "-d", str(seconds), "/dev/zero"], capture_output=True, text=True, env=environment,
                         user=USER, group=AUDIO, extra_groups=[AUDIO], timeout=30)
    error = next((line for line in run.stderr.splitlines() if line.strip()), "")
    return run.returncode, error


def end_player(proc, grace=5.0):
    """SIGTERM a bare player, SIGKILL after GRACE: squeezelite under TCG
    sometimes takes longer than that to honour SIGTERM, and killed or not it
    leaves its dmix state behind all the same."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
        return "terminated"
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        return "killed"


def clear_leftover(device, env=None):
    """An earlier scenario's leftover on DEVICE removed the way the next open
    removes it (that open fails once)."""
    if shm(KEY[device]) is not None:
        aplay(device, env=env)


def wait_playing(rig, pid_of, device_node, timeout=30.0):
    """Seconds until pid_of() holds device_node and a substream of its card runs."""
    card = int(re.search(r"pcmC(\d+)D", device_node).group(1))

    def playing():
        pid = pid_of()
        return pid is not None and rig.fds_on(pid, device_node) and any(
            state == "RUNNING" for _, state, _ in rig.substreams(card))
    return rig.wait_for(playing, timeout)


def squeezelite_child(rig, sup):
    return rig.player_child(sup.pid)


# --- gate-quiet-leftover -------------------------------------------------------------

def scenario_leftover(rig, p):
    prepare_devices()
    rig.wait_device_idle("lb0c")
    key = KEY["lb0c"]
    node = rig.pcm_node("lb0c")
    player = start_as_user(rig, p, rig.squeezelite("lb0c", "leftover"), "squeezelite")
    if wait_playing(rig, lambda: player.pid, node) is None:
        raise rig.Failure("squeezelite on lb0c never played")
    playing_shm = shm(key)
    # A second dmix client while the first plays: alsa-lib opens the slave with
    # O_APPEND, and the kernel refuses that on a device with more than one
    # substream unless a subdevice is named (pcm_native.c: "must be unique").
    second = aplay("lb0c")
    ended = end_player(player)
    left = shm(key)
    left_sem = sem(key)
    creator_alive = left is not None and rig.alive(left["cpid"])
    time.sleep(5)  # "however much later"
    still = shm(key)
    first = aplay("lb0c")
    after_first = shm(key)
    again = aplay("lb0c")
    figures = {
        "while_playing_shm": f"nattch{playing_shm['nattch']}" if playing_shm else "none",
        "second_client": f"rc{second[0]}:{second[1]}".replace(" ", "_"),
        "player": ended,
        "after_stop_shm": (f"nattch{left['nattch']},cpid{left['cpid']}=squeezelite{player.pid}" if left else "none"),
        "after_stop_sem": "yes" if left_sem is not None else "no",
        "creator_alive": creator_alive,
        "after_5s_shm": "there" if still else "gone",
        "first_open": f"rc{first[0]}:{first[1]}".replace(" ", "_"),
        "after_first_open_shm": "there" if after_first else "gone",
        "second_open": f"rc{again[0]}",
    }
    if left is None or left["nattch"] != 0 or creator_alive:
        raise rig.Failure("no leftover segment after the stop: " + " ".join(f"{k}={v}" for k, v in figures.items()))
    if first[0] == 0 or again[0] != 0 or after_first is not None:
        raise rig.Failure("the leftover did not cost exactly one open: " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return figures


# --- gate-quiet-reassign --------------------------------------------------------------

def scenario_reassign(rig, p):
    prepare_devices()
    rig.wait_device_idle("lb0c")
    rounds = int(rig.PARAMS.get("quiet_rounds", "20"))
    node = rig.pcm_node("lb0c")
    argv = [rig.MONITORD, "--restart", "always", "--"] + rig.squeezelite("lb0c", "rig")
    sups = [start_as_user(rig, p, argv, "monitord")]
    if wait_playing(rig, lambda: squeezelite_child(rig, sups[0]), node) is None:
        raise rig.Failure("the first start never played")
    leftovers = 0
    players = []
    times = []
    for number in range(1, rounds + 1):
        old = sups[-1]
        players.append(squeezelite_child(rig, old))
        rig.stop(old)  # as AmpliPi: SIGTERM, wait for monitord (which waits for squeezelite)
        left = shm(KEY["lb0c"])
        if left is not None and left["nattch"] == 0 and not rig.alive(left["cpid"]):
            leftovers += 1
        sup = start_as_user(rig, p, argv, "monitord")
        sups.append(sup)
        seconds = wait_playing(rig, lambda: squeezelite_child(rig, sup), node)
        if seconds is None:
            raise rig.Failure(f"round {number}: not playing after 30 s")
        times.append(seconds)
    rig.stop(sups[-1])
    # One re-assign: the stopped monitord's lines from its stop on, and the
    # new one's up to its start.
    per_round = []
    hiccups = []
    bad = []
    for number in range(1, rounds + 1):
        old_lines = monitord_lines(sups[number - 1])
        new_lines = monitord_lines(sups[number])
        cut = next((i for i, (_, text) in enumerate(old_lines) if text.startswith("received SIGTERM")), len(old_lines))
        start_end = next((i for i, (_, text) in enumerate(new_lines) if text.startswith("started ")), len(new_lines) - 1)
        lines = old_lines[cut:] + new_lines[:start_end + 1]
        per_round.append(lines)
        ready = [(prio, text) for prio, text in new_lines if " ready after " in text]
        for prio, text in ready:
            hiccups.append(text)
            # A new monitord cannot know an exited process's name (nothing in
            # /proc is left of it): the pid, which the stopped monitord's
            # "stopped: squeezelite (pid N)" line names just before.
            left_by = players[number - 1]
            if prio != 6 or not (text.endswith(f"dmix state left by pid {left_by} (exited)")
                                 or text.endswith(f"dmix state left by squeezelite (pid {left_by}, exited)")):
                bad.append(f"round{number}:<{prio}>{text}")
    every = [prio for lines in per_round for prio, _ in lines]
    warnings = sum(1 for prio in every if prio <= 4)
    # squeezelite that takes more than --stop-timeout to honour SIGTERM is a
    # real warning about the player, not the gate's.
    slow_stops = sum(1 for lines in per_round for prio, text in lines if prio <= 4 and "did not stop within" in text)
    gate_warnings = warnings - slow_stops
    for number, lines in enumerate(per_round, 1):
        rig.note(f"round {number}: " + " | ".join(f"<{prio}>{text[:110]}" for prio, text in lines))
    figures = {
        "rounds": rounds,
        "leftover_after_stop": leftovers,
        "lines": len(every),
        "warning": warnings,
        "warning_slow_stop": slow_stops,
        "warning_gate": gate_warnings,
        "notice": sum(1 for prio in every if prio == 5),
        "info": sum(1 for prio in every if prio == 6),
        "hiccups": len(hiccups),
        "to_playing_s": f"{min(times):.1f}-{max(times):.1f}",
    }
    if hiccups:
        waits = [m.group(1) for m in (re.search(r"ready after (\S+ \S+), (\d+) probes", h) for h in hiccups) if m]
        figures["ready_after"] = ",".join(w.replace(" ", "") for w in waits)
        figures["probes"] = ",".join(sorted({m.group(1) for m in (re.search(r", (\d+) probes", h) for h in hiccups) if m}))
        figures["example"] = hiccups[0].replace(" ", "_")
    if gate_warnings or bad:
        raise rig.Failure(" ".join(f"{k}={v}" for k, v in figures.items()) + " bad=" + ";".join(bad).replace(" ", "_"))
    return figures


# --- gate-quiet-shared-key -------------------------------------------------------------

def scenario_shared_key(rig, p):
    prepare_devices()
    for device in ("lb0c", "lb1c"):
        rig.wait_device_idle(device)
    env = {"ALSA_CONFIG_PATH": COLLIDE_CONF}
    for device in ("lb0c", "lb1c"):
        clear_leftover(device, env)
    # 1. AmpliPi's layout: lb1c plays, lb0c was left with dmix state. The
    # keys differ per card, so the lb1c player does not touch lb0c.
    other = start_as_user(rig, p, rig.squeezelite("lb1c", "other"), "squeezelite-lb1c", env)
    if wait_playing(rig, lambda: other.pid, rig.pcm_node("lb1c")) is None:
        raise rig.Failure("squeezelite on lb1c never played")
    leaver = start_as_user(rig, p, rig.squeezelite("lb0c", "leaver"), "squeezelite-lb0c", env)
    if wait_playing(rig, lambda: leaver.pid, rig.pcm_node("lb0c")) is None:
        raise rig.Failure("squeezelite on lb0c never played")
    end_player(leaver)
    keys_amplipi = ipc_keys()
    sup = start_as_user(rig, p, [rig.MONITORD, "--restart", "always", "--"] + rig.squeezelite("lb0c", "rig"),
                        "monitord-lb0c", env)
    if wait_playing(rig, lambda: squeezelite_child(rig, sup), rig.pcm_node("lb0c")) is None:
        raise rig.Failure("lb0c never played next to lb1c")
    rig.stop(sup)
    end_player(other)
    amplipi_lines = monitord_lines(sup)
    # A squeezelite that outlives SIGTERM under TCG is warned about at the
    # stop (right, and about the player); only the gate's warnings count.
    amplipi_slow_stops = [text for prio, text in amplipi_lines if prio <= 4 and "did not stop within" in text]
    amplipi_warnings = [text for prio, text in amplipi_lines if prio <= 4 and "did not stop within" not in text]
    mentions_other = any(f"pid {other.pid}" in text for _, text in amplipi_lines)

    # 2. A key that collides: lb0k's ipc_key 5124 on card 2 is lb1c's 0x3404.
    # The player is aplay: it holds its PCM from the first open on
    # (squeezelite opens, closes and opens again at start-up).
    for device in ("lb0c", "lb1c"):
        rig.wait_device_idle(device)
        clear_leftover(device, env)
    colliding = start_as_user(rig, p, ["aplay", "-q", "-D", "lb0k", "-t", "raw", "-f", "S16_LE", "-r", "48000",
                                       "-c", "2", "/dev/zero"], "aplay-lb0k", env)
    held = rig.wait_for(lambda: rig.fds_on(colliding.pid, "/dev/snd/pcmC2D0p")
                        and (shm(KEY["lb1c"]) or {}).get("nattch", 0) >= 1, 20)
    if held is None:
        raise rig.Failure(f"aplay on lb0k never attached key 0x3404 ({ipc_keys()})")
    shared = shm(KEY["lb1c"])
    sup = start_as_user(rig, p, [rig.MONITORD, "--restart", "always", "--"] + rig.squeezelite("lb1c", "rig"),
                        "monitord-lb1c", env)
    warned = rig.wait_for(lambda: any("same key" in text for _, text in monitord_lines(sup)), 30)
    wedged = squeezelite_child(rig, sup) is None
    rig.stop(colliding)
    recovered = wait_playing(rig, lambda: squeezelite_child(rig, sup), rig.pcm_node("lb1c"))
    rig.stop(sup)
    lines = monitord_lines(sup)
    for prio, text in lines:
        rig.note(f"    <{prio}>{text}")
    naming = [text for prio, text in lines if prio <= 4 and f"pid {colliding.pid} (aplay" in text and "lb0k has the same key" in text]
    figures = {
        "amplipi_keys": keys_amplipi,
        "amplipi_warnings": len(amplipi_warnings),
        "amplipi_slow_stops": len(amplipi_slow_stops),
        "amplipi_names_other": mentions_other,
        "collide_shm_0x3404": f"nattch{shared['nattch']},cpid{shared['cpid']}" if shared else "none",
        "lb1c_wedged_while_lb0k_played": wedged,
        "warning_names_player_and_key": bool(naming),
        "recovered_after_stop_s": f"{recovered:.1f}" if recovered is not None else "no",
    }
    if naming:
        figures["warning"] = naming[0][:200].replace(" ", "_")
    if amplipi_warnings:
        figures["amplipi_warning"] = amplipi_warnings[0][:200].replace(" ", "_")
    # What part 1 proves is that the shared ipc_key 1028 does not tie lb0c to
    # lb1c: a warning that blames lb1c, its player or a shared key fails it.
    # The one warning a fresh-clone CI run saw here was the slow stop above
    # (a rerun showed amplipi_slow_stops=1); any other gate warning of lb0c's
    # own is reported, not failed here: gate-quiet-reassign's 20 rounds are
    # the zero-warnings proof.
    blames_other = [text for text in amplipi_warnings if "lb1c" in text or "same key" in text]
    if blames_other or mentions_other or warned is None or not naming or recovered is None:
        raise rig.Failure(" ".join(f"{k}={v}" for k, v in figures.items()))
    return figures


# --- gate-quiet-holder ---------------------------------------------------------------------

def scenario_holder(rig, p):
    prepare_devices()
    for device in ("lb0c", "lb1c"):
        rig.wait_device_idle(device)
        clear_leftover(device)
    context = start_as_user(rig, p, rig.squeezelite("lb1c", "context"), "squeezelite-lb1c")
    if wait_playing(rig, lambda: context.pid, rig.pcm_node("lb1c")) is None:
        raise rig.Failure("squeezelite on lb1c never played")
    # Both substreams of card 2 device 0 (pcm_substreams=2 applies to the
    # first card only; the others have 8): dmix finds none free.
    holders = [start_as_user(rig, p, ["aplay", "-q", "-D", f"hw:Loopback,0,{sub}", "-t", "raw", "-f", "S16_LE",
                                      "-r", "48000", "-c", "2", "/dev/zero"], f"aplay{sub}") for sub in (0, 1)]
    if rig.wait_for(lambda: all(rig.fds_on(h.pid, rig.pcm_node("lb0c")) for h in holders), 20) is None:
        raise rig.Failure("the aplays never held lb2c's device")
    started = time.monotonic()
    sup = start_as_user(rig, p, [rig.MONITORD, "--restart", "always", "--"] + rig.squeezelite("lb0c", "rig"),
                        "monitord-lb0c")
    named = rig.wait_for(lambda: all(any(f"lb0c holder: pid {h.pid} (aplay" in text for prio, text in monitord_lines(sup)
                                             if prio <= 4) for h in holders), 30)
    warned_after = time.monotonic() - started
    for h in holders:
        h.send_signal(signal.SIGTERM)
        h.wait(timeout=10)
    playing = wait_playing(rig, lambda: squeezelite_child(rig, sup), rig.pcm_node("lb0c"))
    rig.stop(sup)
    end_player(context)
    lines = monitord_lines(sup)
    for prio, text in lines:
        rig.note(f"    <{prio}>{text}")
    warnings = [text for prio, text in lines if prio <= 4]
    context_as_holder = any(f"holder: pid {context.pid}" in text for text in warnings)
    context_marked = any(f"pid {context.pid} squeezelite" in text and "context only" in text for text in warnings)
    uninspected_warnings = sum(1 for text in warnings if "could not be inspected" in text and "processes of other users" not in text)
    figures = {
        "warnings": len(warnings),
        "holders_named": named is not None,
        "warned_within_s": f"{warned_after:.1f}",
        "context_as_holder": context_as_holder,
        "context_marked": context_marked,
        "uninspected_lines": uninspected_warnings,
        "played_after_release_s": f"{playing:.1f}" if playing is not None else "no",
    }
    if named is None or context_as_holder or not context_marked or uninspected_warnings or playing is None:
        raise rig.Failure(" ".join(f"{k}={v}" for k, v in figures.items()))
    return figures


def scenarios(rig):
    def bind(function):
        return lambda p: function(rig, p)
    return {
        "gate-quiet-leftover": bind(scenario_leftover),
        "gate-quiet-reassign": bind(scenario_reassign),
        "gate-quiet-shared-key": bind(scenario_shared_key),
        "gate-quiet-holder": bind(scenario_holder),
    }

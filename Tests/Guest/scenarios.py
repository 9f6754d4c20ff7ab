#!/usr/bin/env python3
"""The guest rig's scenarios (run by /rig/init inside the qemu guest).

Each scenario starts real processes (monitord, squeezelite, alsaloop, aplay,
process_monitor.py) against the kernel's snd-aloop and prints one line

    RIG result NAME pass|fail|skip key=value...

plus `RIG figure NAME key=value...` lines for the measurements. "Plays" is
read from the kernel, never from a log line: the process has an fd on the
loopback's /dev/snd/pcmC<card>D<dev>p and a substream of that device is in
state RUNNING (/proc/asound/card*/pcm*p/sub*/status); where the substream is
the process's own (a bare hw device), its owner_pid must be that process.

Scenario names, parameters and durations come from the kernel command line
(rig.scenarios=a,b rig.rounds=N rig.probe_seconds=S).
"""
import os
import re
import signal
import subprocess
import sys
import time

import gate_quiet

MONITORD = "/usr/local/bin/monitord"
SQUEEZELITE = "/usr/bin/squeezelite"
PROCESS_MONITOR = "/rig/process_monitor.py"
# Where each PCM lands: (card, device) of its playback node. The rig's
# layout (asound.conf): stream N plays to card 2+N, device 0; lb2x is
# hw:Loopback_2,0,0. AmpliPi's (amplipi/asound.conf): lbNc is a dmix on
# hw:Loopback_K,D with card 2+N%6 and device 0 for N<6, 1 above; ch0 is the
# DAC stand-in (card 0), ch1..ch3 share the USB card stand-in (card 1).
# lb0c..lb2c are the same in both.
# lb3x..lb5x (amplipi/exclusive.conf) are bare hw substreams next to
# AmpliPi's layout, like lb2x in the rig's.
PCM = {"lb2x": (4, 0), "lb3x": (5, 0), "lb4x": (6, 0), "lb5x": (7, 0),
       "ch0": (0, 0), "ch1": (1, 0), "ch2": (1, 0), "ch3": (1, 0)}
PCM.update({f"lb{n}c": (2 + n % 6, 0 if n < 6 else 1) for n in range(12)})
CARD = {name: card for name, (card, _) in PCM.items()}
LOGDIR = "/tmp/rig"
# The asound.conf files a scenario can run a process under (alsa_env); the
# one installed as /etc/asound.conf is named by rig.asound (Tests/Guest/init).
# AmpliPi's layouts come with the rig's exclusive devices (lb3x..lb5x).
LAYOUTS = {"rig": ["/rig/asound.conf"],
           "amplipi": ["/rig/amplipi/asound.conf", "/rig/amplipi/exclusive.conf"],
           "amplipi-keys": ["/rig/amplipi/asound-keys.conf", "/rig/amplipi/exclusive.conf"]}
# AmpliPi's players run as pi (Tests/Guest/init adds it, in group audio).
PI_UID = 1000


def cmdline_params():
    params = {}
    with open("/proc/cmdline") as f:
        for word in f.read().split():
            if word.startswith("rig.") and "=" in word:
                key, value = word[4:].split("=", 1)
                params[key] = value
    return params


PARAMS = cmdline_params()
ASOUND = PARAMS.get("asound", "rig")
ROUNDS = int(PARAMS.get("rounds", "5"))
PROBE_SECONDS = int(PARAMS.get("probe_seconds", "60"))


def emit(*words):
    print("RIG " + " ".join(str(w) for w in words), flush=True)


def note(text):
    """Diagnostics for the serial log (not read by the host)."""
    print(f"rig[{time.monotonic():9.3f}]: {text}", flush=True)


class Failure(Exception):
    pass


class Skip(Exception):
    pass


# --- what the kernel says ------------------------------------------------------

def pcm_node(device):
    card, number = PCM[device]
    return f"/dev/snd/pcmC{card}D{number}p"


def fds_on(pid, node):
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}") == node:
                return True
        except OSError:
            pass
    return False


def holders(node):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and fds_on(int(entry), node):
            pids.append(int(entry))
    return pids


def tgid(tid):
    """The process of a thread: owner_pid is the opening thread's id
    (squeezelite opens its PCM from its output thread)."""
    try:
        with open(f"/proc/{tid}/status") as f:
            for line in f:
                if line.startswith("Tgid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return tid


def substreams(card, device=0):
    """[(sub number, state, owner_pid)] of a playback device."""
    base = f"/proc/asound/card{card}/pcm{device}p"
    result = []
    for entry in sorted(os.listdir(base)):
        if not entry.startswith("sub"):
            continue
        state, owner = "closed", None
        with open(f"{base}/{entry}/status") as f:
            for line in f:
                if line.startswith("state:"):
                    state = line.split(":", 1)[1].strip()
                elif line.startswith("owner_pid"):
                    owner = tgid(int(line.split(":", 1)[1]))
        result.append((int(entry[3:]), state, owner))
    return result


def plays(pid, device, sub=None):
    """pid holds DEVICE's node and a substream of it is RUNNING (through
    dmix, the slave substream is owned by the dmix server). With sub=N:
    substream N is RUNNING and owned by pid itself (a bare hw device)."""
    if pid is None or not fds_on(pid, pcm_node(device)):
        return False
    for number, state, owner in substreams(*PCM[device]):
        if state == "RUNNING" and (sub is None or (number == sub and owner == pid)):
            return True
    return False


def describe(device):
    """The substreams' states and owners, and the node's holders, for a
    failure message."""
    subs = ";".join(f"sub{n}:{state}:{owner}" for n, state, owner in substreams(*PCM[device]))
    return f"{pcm_node(device)} held by {holders(pcm_node(device))}, {subs}"


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def player_child(supervisor_pid):
    for child in children(supervisor_pid):
        if exe(child) == SQUEEZELITE:
            return child
    return None


def status_file(path):
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return {}
    fields = {}
    for pair in text.split(" "):
        if "=" in pair:
            key, value = pair.split("=", 1)
            fields[key] = value
    return fields


def wait_for(predicate, timeout, step=0.05):
    """Seconds until predicate() held, or None after timeout."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(step)


# --- processes --------------------------------------------------------------------

class Processes:
    """Everything a scenario starts; all of it is ended afterwards."""

    def __init__(self, scenario):
        self.scenario = scenario
        self.started = []
        self.count = 0

    def start(self, argv, name, **kwargs):
        self.count += 1
        log = open(f"{LOGDIR}/{self.scenario}-{self.count}-{name}.log", "wb")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, **kwargs)
        proc.log_path = log.name
        log.close()
        self.started.append(proc)
        note(f"started {name} pid {proc.pid}: {' '.join(argv)}")
        return proc

    def end_all(self):
        for proc in self.started:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 8
        for proc in self.started:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Players that outlived their supervisor (process_monitor.py does not
        # wait for its child), and dmix servers.
        for _ in range(3):
            left = [pid for pid in all_pids() if exe(pid) in
                    (SQUEEZELITE, "/usr/bin/alsaloop", "/usr/bin/aplay", MONITORD)]
            if not left:
                break
            for pid in left:
                note(f"ending leftover {pid} {exe(pid)}")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.3)
        reap()

    def tail_logs(self, lines=12):
        for proc in self.started:
            try:
                with open(proc.log_path, errors="replace") as f:
                    content = f.read().splitlines()[-lines:]
            except OSError:
                continue
            note(f"--- {proc.log_path} (exit {proc.poll()})")
            for line in content:
                note("    " + line)


def all_pids():
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and int(e) != os.getpid()]


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop(proc, timeout=10.0):
    """SIGTERM and wait, like AmpliPi's terminate() + communicate(timeout)."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure(f"pid {proc.pid} still running {timeout:.0f} s after SIGTERM")


def gate_ready(proc):
    """(how long, probes) from monitord's "DEV ready after 2.9 s, 2 probes"
    line, or None when the first probe succeeded (no such line)."""
    with open(proc.log_path, errors="replace") as f:
        found = re.search(r"ready after (.+?), (\d+) probes", f.read())
    return (found.group(1).replace(" ", ""), int(found.group(2))) if found else None


def monitord_has_restart():
    out = subprocess.run([MONITORD, "--help"], capture_output=True, text=True).stdout
    return "--restart" in out


def cpu_ns(pid):
    """On-CPU time from /proc/PID/schedstat (ns), or utime+stime in ns."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def ctx_switches(pid):
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                key, value = line.split(":")
                values[key] = int(value)
    return values["voluntary_ctxt_switches"], values["nonvoluntary_ctxt_switches"]


def wait_device_idle(device, timeout=30.0):
    node = pcm_node(device)
    waited = wait_for(lambda: not holders(node), timeout, 0.1)
    if waited is None:
        raise Failure(f"{node} still held by {holders(node)} before the scenario")


def squeezelite(device, name):
    return [SQUEEZELITE, "-n", name, "-o", device]


def as_pi(argv):
    """ARGV run as pi (uid 1000, its groups: pi and audio), as AmpliPi runs
    its players: setpriv (util-linux) execs it, so the pid stays the same."""
    return ["setpriv", "--reuid", str(PI_UID), "--regid", str(PI_UID), "--init-groups",
            "env", "HOME=/home/pi", "USER=pi", "LOGNAME=pi"] + argv


def alsa_env(layout, base=None):
    """An environment in which alsa-lib reads LAYOUT's files (a key of
    LAYOUTS) instead of /etc/asound.conf: ALSA_CONFIG_PATH names a copy of
    alsa.conf whose load hook names them. Lets one boot run both of
    AmpliPi's layouts; give the same env to monitord and its player."""
    path = f"{LOGDIR}/alsa-{layout}.conf"
    if not os.path.exists(path):
        with open("/usr/share/alsa/alsa.conf") as f:
            files = " ".join(f'"{name}"' for name in LAYOUTS[layout])
            text, count = re.subn(r'"/etc/asound\.conf[^"]*"', files, f.read())
        if count != 1:
            raise Failure(f"alsa.conf names /etc/asound.conf {count} times, not once")
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.chmod(path + ".tmp", 0o644)
        os.rename(path + ".tmp", path)
    env = dict(os.environ if base is None else base)
    env["ALSA_CONFIG_PATH"] = path
    return env


def dmix_shm_keys():
    """The System V shared memory keys in use (hex, sorted): dmix keeps its
    state in a segment whose key is ipc_key plus an offset from the slave's
    card and device, so this shows which dmix instances share one."""
    keys = []
    with open("/proc/sysvipc/shm") as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[6]) > 0:  # nattch
                keys.append(int(fields[0]))
    return [f"{key:#x}" for key in sorted(set(keys))]


def uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("Uid:")).split()[1])


# --- scenarios ----------------------------------------------------------------------

def reassign(p, supervisor_argv, label):
    """ROUNDS stream re-assigns on lb0c: from a playing stream, stop the
    supervisor (SIGTERM, wait for it as AmpliPi's communicate() does) and
    start a new one on the same loopback at once. Returns per-round results:
    (seconds to playing, or None when the round ended silent, why)."""
    device = "lb0c"
    wait_device_idle(device)
    window = 30.0  # longer than the 1-23 s of EINVAL seen after a stop (docs/gate.md: the dmix leftover)

    def start():
        return p.start(supervisor_argv + squeezelite(device, "rig"), label)

    def judge(sup):
        """Seconds until the supervisor's squeezelite plays, or None."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < window:
            if plays(player_child(sup.pid), device):
                return time.monotonic() - t0, "playing"
            if sup.poll() is not None:
                return None, f"{label} exited {sup.returncode}"
            time.sleep(0.05)
        return None, f"not playing after {window:.0f} s"

    def playing_stream(what):
        """A supervisor whose player plays, started on an idle device; the
        device may still fail once with EINVAL after an earlier stop (the dmix
        state it left behind), so
        a start that ends silent is retried (the operator's fix)."""
        why = "?"
        for _attempt in range(8):
            wait_device_idle(device)
            sup = start()
            seconds, why = judge(sup)
            if seconds is not None:
                return sup
            if sup.poll() is None:
                stop(sup)
            p.end_all()
            time.sleep(3)
        raise Failure(f"{what}: no playing stream after 8 starts ({why})")

    sup = playing_stream("the first start")
    results = []
    gates = []
    for round_number in range(1, ROUNDS + 1):
        if sup.poll() is not None or not plays(player_child(sup.pid), device):
            # The last round ended silent: bring the stream back so that
            # every round starts from a playing one.
            note(f"round {round_number}: restoring a playing stream first")
            if sup.poll() is None:
                stop(sup)
            p.end_all()
            sup = playing_stream(f"round {round_number}")
        stop(sup)
        sup = start()
        seconds, why = judge(sup)
        gates.append(gate_ready(sup) if label == "monitord" else None)
        note(f"{label} round {round_number}: {why}" + (f" after {seconds:.2f} s" if seconds is not None else ""))
        with open(sup.log_path, errors="replace") as f:
            for line in f.read().splitlines()[:8]:
                note("    " + line)
        results.append((seconds, why))
    if sup.poll() is None:
        stop(sup)
    return results, gates


def scenario_reassign_monitord(p):
    argv = [MONITORD]
    policy = "on-failure"
    if monitord_has_restart():
        # The deployed recipe: squeezelite exits 0 when it cannot open its
        # output, which can happen between a good probe and its own open.
        argv += ["--restart", "always"]
        policy = "always"
    results, gates = reassign(p, argv + ["--"], "monitord")
    times = [s for s, _ in results if s is not None]
    silent = len(results) - len(times)
    figures = {
        "rounds": len(results),
        "playing": len(times),
        "restart": policy,
        "to_playing_s": ",".join(f"{s:.1f}" if s is not None else "silent" for s, _ in results),
        # how long the gate held the player back, and its probes
        "gate": ",".join(f"{g[0]}/{g[1]}probes" if g else "open" for g in gates),
    }
    if times:
        figures["max_s"] = f"{max(times):.1f}"
    if silent:
        raise Failure(" ".join(f"{k}={v}" for k, v in figures.items()))
    return figures


def scenario_reassign_process_monitor(p):
    results, _ = reassign(p, ["python3", PROCESS_MONITOR], "process_monitor")
    silent = sum(1 for s, _ in results if s is None)
    figures = {
        "rounds": len(results),
        "silent": silent,
        "to_playing_s": ",".join(f"{s:.1f}" if s is not None else "silent" for s, _ in results),
    }
    reasons = sorted({why for s, why in results if s is None})
    if reasons:
        figures["why"] = "|".join(r.replace(" ", "_") for r in reasons)
    # A measurement of the original: it passes whatever the count; it fails
    # only if the rounds could not be run.
    return figures


def scenario_stale_player(p):
    device = "lb2x"
    node = pcm_node(device)
    wait_device_idle(device)
    wait_device_idle("lb1c")
    # Another user needs the device nodes (udev would give them to "audio").
    for entry in os.listdir("/dev/snd"):
        os.chmod(f"/dev/snd/{entry}", 0o666)
    # Decoy 1: a squeezelite on another device.
    other_device = p.start(squeezelite("lb1c", "decoy-other-device"), "decoy-other-device")
    # Decoy 2: argv[0] is "squeezelite" with the same -o, but the
    # executable is python3.
    spoofed = p.start(["squeezelite", "-c", "import time; time.sleep(1e6)", "-o", device],
                      "decoy-spoofed", executable="/usr/bin/python3")
    # Decoy 3: another user's squeezelite with the same -o; its ~/.asoundrc
    # points lb2x at substream 1, so it really plays, next to the stale one.
    home = "/tmp/nobody-home"
    os.makedirs(home, exist_ok=True)
    with open(f"{home}/.asoundrc", "w") as f:
        f.write('pcm.!lb2x { type plug slave.pcm "hw:Loopback_2,0,1" }\n')
    os.chmod(home, 0o755)
    os.chmod(f"{home}/.asoundrc", 0o644)
    other_user = p.start(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                          "env", f"HOME={home}"] + squeezelite(device, "decoy-other-user"),
                         "decoy-other-user")
    # The stale player: a squeezelite left behind on the exclusive substream
    # 0 of the same device, in a session of its own (nobody supervises it).
    stale = p.start(squeezelite(device, "stale"), "stale", start_new_session=True)
    # Generous: on an emulated arm64 CPU four players starting at once take
    # well over 30 s to open their devices.
    if wait_for(lambda: plays(stale.pid, device, sub=0), 120) is None:
        raise Failure(f"the stale squeezelite never held hw:Loopback_2,0,0: {describe(device)}")
    if wait_for(lambda: plays(other_user.pid, device, sub=1), 120) is None:
        raise Failure(f"the other user's squeezelite never held hw:Loopback_2,0,1: {describe(device)}")
    if wait_for(lambda: plays(other_device.pid, "lb1c"), 120) is None:
        raise Failure("the squeezelite on lb1c never played")
    with open(f"/proc/{other_user.pid}/status") as f:
        uid_line = next(line for line in f if line.startswith("Uid:"))
    if uid_line.split()[1] != "65534" or exe(other_user.pid) != SQUEEZELITE:
        raise Failure(f"decoy-other-user is not squeezelite as uid 65534: {uid_line.strip()} {exe(other_user.pid)}")
    if exe(spoofed.pid) == SQUEEZELITE or not alive(spoofed.pid):
        raise Failure("decoy-spoofed is not a live non-squeezelite process")
    # A new stream on the same device: it cannot open the substream the
    # stale one holds (EBUSY) until monitord ends the stale player.
    status = f"{LOGDIR}/stale.status"
    t0 = time.monotonic()
    sup = p.start([MONITORD, "--status-file", status, "--probe-interval", "500ms",
                   "--stale-after", "2", "--stop-timeout", "1s", "--"]
                  + squeezelite(device, "rig"), "monitord")
    seconds = wait_for(lambda: plays(player_child(sup.pid), device, sub=0), 120)
    if seconds is None:
        raise Failure(f"monitord's squeezelite does not hold {device}: {describe(device)}, "
                      f"status {status_file(status)}")
    stale_rc = stale.poll()
    if stale_rc is None:
        raise Failure("the stale squeezelite is still running")
    with open(sup.log_path, errors="replace") as f:
        log = f.read()
    ended = re.findall(r"ending stale player pid (\d+)", log)
    if ended != [str(stale.pid)]:
        raise Failure(f"monitord ended pids {ended}, expected exactly the stale one ({stale.pid})")
    for line in log.splitlines():
        note("    " + line)
    ready = gate_ready(sup)
    survivors = {"other_device": other_device, "spoofed": spoofed, "other_user": other_user}
    dead = [name for name, proc in survivors.items() if proc.poll() is not None or not alive(proc.pid)]
    if dead:
        raise Failure(f"decoys ended: {','.join(dead)}")
    if not plays(other_user.pid, device, sub=1):
        raise Failure("the other user's squeezelite no longer plays")
    return {"to_playing_s": f"{seconds:.1f}", "stale_exit": stale_rc,
            "decoys_alive": len(survivors), "stale_ended_by": "monitord",
            "probes": ready[1] if ready else "?"}


def scenario_alsaloop_ungated(p):
    # A probe of 5 s would delay a gated start by 5 s at least: a start well
    # under that shows there was no probe.
    wait_device_idle("lb1c")
    status = f"{LOGDIR}/alsaloop.status"
    t0 = time.monotonic()
    sup = p.start([MONITORD, "--status-file", status, "--probe-duration", "5s", "--",
                   "alsaloop", "-C", "lb0p", "-P", "lb1c", "-t", "100000"], "monitord")

    def child():
        for pid in children(sup.pid):
            if exe(pid) == "/usr/bin/alsaloop":
                return pid
        return None

    spawned = wait_for(lambda: child() is not None, 30, 0.01)
    if spawned is None:
        raise Failure(f"no alsaloop child; status {status_file(status)}")
    capture = f"/dev/snd/pcmC{CARD['lb0c']}D1c"
    holding = wait_for(lambda: fds_on(child(), capture), 30)
    if holding is None:
        raise Failure(f"alsaloop never opened {capture}")
    time.sleep(1)
    fields = status_file(status)
    if fields.get("state") != "running" or fields.get("gate_device"):
        raise Failure(f"status file says {fields}")
    if spawned >= 4.0:
        raise Failure(f"alsaloop started after {spawned:.2f} s (a probe ran?)")
    with open(sup.log_path, errors="replace") as f:
        log = f.read()
    if "probe" in log or "waiting for" in log:
        raise Failure("monitord's log mentions a probe")
    return {"to_spawn_s": f"{spawned:.2f}", "to_capture_open_s": f"{spawned + holding:.2f}"}


def scenario_restart_always(p):
    if not monitord_has_restart():
        raise Skip("this monitord has no --restart")
    device = "lb2x"
    wait_device_idle(device)
    wait_device_idle("lb1c")
    # The player's own device is held; the gate's device (lb1c) is free.
    holder = p.start(["aplay", "-q", "-D", device, "-t", "raw", "-f", "S16_LE", "-r", "48000",
                      "-c", "2", "/dev/zero"], "holder")
    if wait_for(lambda: plays(holder.pid, device, sub=0), 30) is None:
        raise Failure("aplay never held hw:Loopback_2,0,0")
    # First the default policy. squeezelite 1.9 (bookworm, bullseye) exits 0
    # on EBUSY: monitord ends, silence. squeezelite 2.0 (trixie) exits 1
    # there: the default policy already restarts it, through the backoff.
    status0 = f"{LOGDIR}/on-failure.status"
    default = p.start([MONITORD, "--status-file", status0, "--alsa-device", "lb1c", "--"]
                      + squeezelite(device, "rig"), "monitord-on-failure")

    def first_exit():
        with open(default.log_path, errors="replace") as f:
            m = re.search(r"squeezelite \(pid \d+\) exited (\d+) after", f.read())
        return int(m.group(1)) if m else None

    if wait_for(lambda: default.poll() is not None or first_exit() is not None, 60) is None:
        raise Failure("squeezelite did not exit on its held device within 60 s")
    player_exit = first_exit()
    if player_exit == 0 or player_exit is None:
        try:
            default_rc = default.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise Failure("monitord --restart on-failure did not end when squeezelite exited 0")
    else:
        if wait_for(lambda: log_has(default, "restarting in"), 30) is None or default.poll() is not None:
            raise Failure(f"squeezelite exited {player_exit} and monitord --restart on-failure "
                          f"did not restart it: {status_file(status0)}")
        stop(default)
        default_rc = "restarted"
    status = f"{LOGDIR}/always.status"
    sup = p.start([MONITORD, "--restart", "always", "--status-file", status, "--alsa-device", "lb1c",
                   "--backoff-initial", "200ms", "--backoff-max", "1s", "--"]
                  + squeezelite(device, "rig"), "monitord-always")
    restarts = lambda: int(status_file(status).get("restarts", "0") or 0)
    if wait_for(lambda: restarts() >= 3, 90) is None:
        raise Failure(f"squeezelite was not restarted 3 times: {status_file(status)}")
    if sup.poll() is not None:
        raise Failure(f"monitord --restart always exited {sup.returncode}")
    before = restarts()
    stop(holder)
    seconds = wait_for(lambda: plays(player_child(sup.pid), device, sub=0), 60)
    if seconds is None:
        raise Failure(f"squeezelite does not hold {device} after it freed: {describe(device)}, status {status_file(status)}")
    return {"player_exit": player_exit, "on_failure_exit": default_rc, "restarts_while_held": before,
            "to_playing_after_release_s": f"{seconds:.1f}"}


def scenario_probe_cost(p):
    device = "lb2x"
    wait_device_idle(device)
    # Held by aplay (not a stale squeezelite: never ended), so every probe
    # fails with EBUSY; monitord runs with its default probe schedule.
    holder = p.start(["aplay", "-q", "-D", device, "-t", "raw", "-f", "S16_LE", "-r", "48000",
                      "-c", "2", "/dev/zero"], "holder")
    if wait_for(lambda: plays(holder.pid, device, sub=0), 30) is None:
        raise Failure("aplay never held hw:Loopback_2,0,0")
    status = f"{LOGDIR}/probe.status"
    sup = p.start([MONITORD, "--status-file", status, "--"] + squeezelite(device, "rig"), "monitord")
    probes = lambda: int(status_file(status).get("gate_failed_probes", "0") or 0)
    # Past the start-up and the first stale-player searches (after 4 and 8).
    if wait_for(lambda: probes() >= 9, 60) is None:
        raise Failure(f"no failed probes: {status_file(status)}")
    n0, cpu0, (vol0, nonvol0), t0 = probes(), cpu_ns(sup.pid), ctx_switches(sup.pid), time.monotonic()
    time.sleep(PROBE_SECONDS)
    n1, cpu1, (vol1, nonvol1), t1 = probes(), cpu_ns(sup.pid), ctx_switches(sup.pid), time.monotonic()
    if sup.poll() is not None or children(sup.pid):
        raise Failure("monitord started its player although the device was held")
    count = n1 - n0
    expected = (t1 - t0) / 3.0  # 1 s probe (failing at once) + 2 s interval at most
    if count < expected * 0.5:
        raise Failure(f"only {count} failed probes in {t1 - t0:.0f} s")
    per_probe_ms = (cpu1 - cpu0) / count / 1e6
    return {"seconds": f"{t1 - t0:.0f}", "failed_probes": count,
            "cpu_ms_per_probe": f"{per_probe_ms:.2f}",
            "cpu_percent": f"{(cpu1 - cpu0) / 1e9 / (t1 - t0) * 100:.3f}",
            "wakeups_per_probe": f"{(vol1 - vol0) / count:.2f}",
            "involuntary_per_probe": f"{(nonvol1 - nonvol0) / count:.2f}"}


def log_has(proc, text):
    with open(proc.log_path, errors="replace") as f:
        return text in f.read()


def wait_opens(device, timeout=60.0, env=None):
    """Until a short aplay on DEVICE succeeds: after a stop, dmix devices
    refuse opens (EINVAL) for up to ~23 s, and a start in that window would
    measure the window, not the gate. ENV: alsa_env() for another layout."""
    def opens():
        r = subprocess.run(["aplay", "-q", "-D", device, "-t", "raw", "-f", "S16_LE", "-r", "48000",
                            "-c", "2", "-s", "4800", "/dev/zero"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0 or None
    if wait_for(opens, timeout, 0.5) is None:
        raise Failure(f"{device} never opened for a short aplay")


def scenario_gate_latency(p):
    """What the gate adds to a start (lb1c free, monitord's default
    probe vs --alsa-gate off: from monitord's launch to its `started` line,
    median of ROUNDS), and recovery: squeezelite waits for lb2x while aplay
    holds it; after a hold time aplay gets SIGTERM; from its reaped exit to
    monitord's `started` line (the gate) and to squeezelite playing."""
    starts = {"on": [], "off": []}
    # monitord's own CPU time up to its `started` line (schedstat): with the
    # gate on, that includes the probe's alsa-lib work (configuration, open,
    # write, close); the wall time beyond it is waiting (the audio periods,
    # the dmix server it forks, the guest's scheduler).
    cpu = {"on": [], "off": []}
    busy_starts = 0
    for round_number in range(ROUNDS):
        for gate in ("on", "off") if round_number % 2 == 0 else ("off", "on"):
            wait_device_idle("lb1c")
            wait_opens("lb1c")
            extra = [] if gate == "on" else ["--alsa-gate", "off"]
            t0 = time.monotonic()
            sup = p.start([MONITORD] + extra + ["--"] + squeezelite("lb1c", "rig"), f"start-{gate}")
            if wait_for(lambda: log_has(sup, "started squeezelite"), 30, 0.005) is None:
                raise Failure(f"gate {gate}: squeezelite not started within 30 s")
            elapsed = time.monotonic() - t0
            try:
                cpu_at_start = cpu_ns(sup.pid)
            except OSError:
                cpu_at_start = None
            if gate == "on" and log_has(sup, "lb1c ready after"):
                # Not a free device after all (a failed first probe, which the
                # ready line reports): that start measured the device, not the gate.
                busy_starts += 1
                note(f"gate-latency start {round_number}: lb1c was not free ({elapsed * 1000:.0f} ms)")
            else:
                starts[gate].append(elapsed)
                if cpu_at_start is not None:
                    cpu[gate].append(cpu_at_start / 1e9)
            stop(sup)
            p.end_all()
    device = "lb2x"
    to_spawn, to_playing = [], []
    for hold in (1.5, 3.5, 6.5)[:max(1, min(3, ROUNDS))]:
        wait_device_idle(device)
        holder = p.start(["aplay", "-q", "-D", device, "-t", "raw", "-f", "S16_LE", "-r", "48000",
                          "-c", "2", "/dev/zero"], "holder")
        if wait_for(lambda: plays(holder.pid, device, sub=0), 30) is None:
            raise Failure("aplay never held hw:Loopback_2,0,0")
        # No holder grace: the hold is timed from the first failed probe,
        # which then logs at once.
        sup = p.start([MONITORD, "--holder-grace", "0", "--"] + squeezelite(device, "rig"), "monitord")
        if wait_for(lambda: log_has(sup, "is not available"), 30, 0.02) is None:
            raise Failure("monitord's gate never found lb2x busy")
        time.sleep(hold)
        stop(holder)
        released = time.monotonic()
        if wait_for(lambda: log_has(sup, "started squeezelite"), 30, 0.005) is None:
            raise Failure(f"squeezelite not started within 30 s of the release (hold {hold} s)")
        to_spawn.append(time.monotonic() - released)
        note(f"gate-latency hold {hold} s: spawned {to_spawn[-1] * 1000:.0f} ms after the release")
        with open(sup.log_path, errors="replace") as f:
            for line in f.read().splitlines()[:8]:
                note("    " + line)
        if wait_for(lambda: plays(player_child(sup.pid), device, sub=0), 30, 0.01) is None:
            raise Failure(f"squeezelite not playing within 30 s of the release: {describe(device)}")
        to_playing.append(time.monotonic() - released)
        stop(sup)
        p.end_all()
    median = lambda xs: sorted(xs)[len(xs) // 2]
    ms = lambda xs: ",".join(f"{x * 1000:.0f}" for x in xs)
    if not starts["on"]:
        raise Failure(f"lb1c was never free at a gated start ({busy_starts} starts found it busy)")
    added = median(starts["on"]) - median(starts["off"])
    cpu_figures = {}
    if cpu["on"] and cpu["off"]:
        cpu_figures = {"monitord_cpu_gate_on_ms": ms(cpu["on"]), "monitord_cpu_gate_off_ms": ms(cpu["off"]),
                       "gate_cpu_adds_ms_median": f"{(median(cpu['on']) - median(cpu['off'])) * 1000:.0f}"}
    return {"start_gate_on_ms": ms(starts["on"]), "start_gate_off_ms": ms(starts["off"]),
            "gate_adds_ms_median": f"{added * 1000:.0f}", **cpu_figures,
            "starts_on_a_busy_device": busy_starts,
            "release_to_spawn_ms": ms(to_spawn), "release_to_playing_ms": ms(to_playing)}


def close_range_cloexec():
    """What this kernel says to close_range(fd, fd, CLOSE_RANGE_CLOEXEC):
    "ok" (5.11 and later), "EINVAL" (5.9, 5.10: close_range without that
    flag), "ENOSYS" (before 5.9). monitord's spawn asks for it and falls back
    to closing descriptors one by one. Asked through perl's syscall()
    (perl-base is essential; python3-minimal has no ctypes); close_range is
    system call 436 on every architecture."""
    script = ('open(my $f, "<", "/dev/null") or die; my $r = syscall(436, fileno($f), fileno($f), 4);'
              'print $r == 0 ? "ok" : ($!{EINVAL} ? "EINVAL" : $!{ENOSYS} ? "ENOSYS" : "errno" . ($! + 0))')
    try:
        return subprocess.run(["perl", "-e", script], capture_output=True, text=True, timeout=30).stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def scenario_no_inherited_fds(p):
    """monitord's child gets stdin, stdout and stderr and nothing else: not a
    descriptor monitord inherited without close-on-exec, nor monitord's own
    (epoll, signalfd, timerfd, pidfd). On a kernel without
    CLOSE_RANGE_CLOEXEC (before 5.11) this is the fallback path."""
    kernel = close_range_cloexec()
    marker_path = f"{LOGDIR}/inherited-marker"
    marker = os.open(marker_path, os.O_WRONLY | os.O_CREAT, 0o644)
    os.set_inheritable(marker, True)
    try:
        sup = p.start([MONITORD, "--", "sleep", "1000"], "monitord", pass_fds=(marker,))
    finally:
        os.close(marker)

    def child():
        kids = children(sup.pid)
        return kids[0] if kids and (exe(kids[0]) or "").endswith("/sleep") else None

    if wait_for(lambda: child() is not None, 30) is None:
        raise Failure("monitord started no sleep")

    def fd_table(pid):
        table = {}
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                table[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
            except OSError:
                pass
        return table

    own = fd_table(sup.pid)
    if marker_path not in own.values():
        raise Failure(f"monitord did not inherit the marker descriptor (its fds: {own})")
    def extras(table):
        return {fd: target for fd, target in table.items() if fd > 2}

    kid = fd_table(child())
    extra = extras(kid)
    if extra:
        # Right after exec, sleep opens and closes its locale files (setlocale):
        # a descriptor open for that moment is its own, not one it inherited.
        # An inherited descriptor stays: only those still there a second later count.
        time.sleep(1)
        kid = fd_table(child())
        extra = {fd: target for fd, target in extra.items() if extras(kid).get(fd) == target}
    if extra:
        raise Failure("the child inherited " + ",".join(f"{fd}:{t}" for fd, t in sorted(extra.items())))
    return {"close_range_cloexec": kernel, "monitord_fds": len(own), "child_fds": ",".join(map(str, sorted(kid)))}


def aplay(device):
    return ["aplay", "-q", "-D", device, "-t", "raw", "-f", "S16_LE", "-r", "48000", "-c", "2", "/dev/zero"]


def scenario_amplipi_layout(p):
    """AmpliPi's device layout in the guest, as pi: under its asound.conf
    (all loopback dmix on ipc_key 1028) and the per-key variant, one aplay
    per PCM at once: ch0 (softvol, dmix on the DAC stand-in), ch1..ch3 (the
    8-channel dmixer on the USB stand-in), lb0c, lb1c, lb6c (device 1 of
    card 2) and lb11c. Each must run as uid 1000 and play on its own node.
    The per-key layout must play everywhere; for the shared key, the PCMs
    that did not are reported (shared_key_failed=...), not judged. And
    monitord as pi gates ch1 with its default probe and starts the player."""
    devices = ["ch0", "ch1", "ch2", "ch3", "lb0c", "lb1c", "lb6c", "lb11c"]
    figures = {}
    for layout in ("amplipi-keys", "amplipi"):
        env = alsa_env(layout)
        for device in devices:
            wait_device_idle(device)
            # The rig's own layout (used by the scenarios before) has dmix
            # on key 1028 too, with other buffer sizes.
            wait_opens(device, env=env)
        procs = {d: p.start(as_pi(aplay(d)), f"{layout}-{d}", env=env) for d in devices}
        wait_for(lambda: all(plays(procs[d].pid, d) or procs[d].poll() is not None for d in devices), 60)
        failed = [d for d in devices if not plays(procs[d].pid, d)]
        for d in failed:
            note(f"{layout}: {d} does not play: exit {procs[d].poll()}, {describe(d)}")
        # Trixie's alsa-lib (1.2.14) can abort an aplay on a plug-over-dmix
        # PCM after an underrun (emulation makes them common): its own
        # assertion, not the layout. Such a device is reported and gets one
        # fresh aplay, which must play; any other failure stands.
        aborted = [d for d in failed if log_has(procs[d], "snd_pcm_plugin_status: Assertion")]
        for d in aborted:
            procs[d] = p.start(as_pi(aplay(d)), f"{layout}-{d}-again", env=env)
            wait_for(lambda: plays(procs[d].pid, d) or procs[d].poll() is not None, 60)
            if plays(procs[d].pid, d):
                failed.remove(d)
            else:
                note(f"{layout}: {d} again does not play: exit {procs[d].poll()}, {describe(d)}")
        users = {uid_of(procs[d].pid) for d in devices if procs[d].poll() is None}
        if users - {PI_UID}:
            raise Failure(f"{layout}: players run as uids {sorted(users)}, not only pi's")
        if layout == "amplipi-keys" and failed:
            raise Failure(f"{layout}: {','.join(failed)} did not play")
        label = "per_key" if layout == "amplipi-keys" else "shared_key"
        figures[f"{label}_failed"] = ",".join(failed) or "none"
        if aborted:
            figures[f"{label}_alsa_lib_aborts"] = ",".join(aborted)
        # Eight PCMs on five dmix instances (ch1..ch3 share the dmixer).
        figures[f"{label}_shm"] = ",".join(dmix_shm_keys())
        for proc in procs.values():
            if proc.poll() is None:
                stop(proc)
    env = alsa_env("amplipi")
    wait_device_idle("ch1")
    status = f"{LOGDIR}/layout.status"
    sup = p.start(as_pi([MONITORD, "--status-file", status, "--alsa-device", "ch1", "--"] + aplay("ch1")),
                  "monitord-ch1", env=env)

    def child():
        kids = children(sup.pid)
        return kids[0] if kids else None
    if wait_for(lambda: plays(child(), "ch1"), 60) is None:
        raise Failure(f"monitord as pi did not start a playing aplay on ch1: {status_file(status)}, {describe('ch1')}")
    if uid_of(sup.pid) != PI_UID or uid_of(child()) != PI_UID:
        raise Failure("monitord or its player does not run as pi")
    stop(sup)
    return figures


SCENARIOS = {
    "reassign-monitord": scenario_reassign_monitord,
    "reassign-process-monitor": scenario_reassign_process_monitor,
    "stale-player": scenario_stale_player,
    "alsaloop-ungated": scenario_alsaloop_ungated,
    "restart-always": scenario_restart_always,
    "probe-cost": scenario_probe_cost,
    "gate-latency": scenario_gate_latency,
    "no-inherited-fds": scenario_no_inherited_fds,
    "amplipi-layout": scenario_amplipi_layout,
}
DEFAULT_SCENARIOS = list(SCENARIOS)
# The scenarios whose outcome AmpliPi's 32-bit platform (armhf, kernel 5.10,
# alsa-lib 1.2.4 beside monitord's static 1.2.8) can change, run there by
# scripts/vm-test --platform-only: the gate and the loopback's dmix state
# after a stop (re-assign), pidfds and /proc on 32-bit (stale player), the
# backoff's timer (restart always), close_range without CLOSE_RANGE_CLOEXEC
# on 5.10 (inherited descriptors). The others check what the platform does
# not change (the Python stand-in, the ungated alsaloop, AmpliPi's layout as
# pi, which the armv7 players guest also runs on) or measure (probe cost,
# gate latency); the x86_64 guest runs them all.
PLATFORM_SCENARIOS = ["reassign-monitord", "stale-player", "restart-always", "no-inherited-fds"]
# The gate's priorities (run only when named; scripts/vm-test --scenario gate-quiet).
SCENARIOS.update(gate_quiet.scenarios(sys.modules[__name__]))


def main():
    os.makedirs(LOGDIR, exist_ok=True)
    names = [n for n in PARAMS.get("scenarios", ",".join(DEFAULT_SCENARIOS)).split(",") if n]
    if any(name.startswith("player-") for name in names):
        # The player scenarios (scripts/vm-test --players) live in
        # players.py, which needs the full python3 of the players' root.
        from players import SCENARIOS as PLAYER_SCENARIOS
        SCENARIOS.update(PLAYER_SCENARIOS)
    if "amplipi-check" in names:
        # contrib/amplipi/check-patch --guest: its bundle in /rig/amplipi-check.
        from amplipi_check import SCENARIOS as AMPLIPI_SCENARIOS
        SCENARIOS.update(AMPLIPI_SCENARIOS)
    for name in names:
        function = SCENARIOS.get(name)
        if function is None:
            emit("result", name, "fail", "reason=unknown_scenario")
            continue
        p = Processes(name)
        start = time.monotonic()
        note(f"scenario {name}")
        try:
            figures = function(p)
            status, words = "pass", [f"{k}={v}" for k, v in figures.items()]
        except Skip as skip:
            status, words = "skip", ["reason=" + str(skip).replace(" ", "_")]
        except Failure as failure:
            p.tail_logs()
            status, words = "fail", ["reason=" + str(failure).replace(" ", "_")]
        except Exception as error:  # a bug in the rig is a failure too
            p.tail_logs()
            status, words = "fail", ["reason=" + f"{type(error).__name__}:{error}".replace(" ", "_")]
        finally:
            p.end_all()
        emit("result", name, status, f"took={time.monotonic() - start:.0f}s", *words)
        sys.stdout.flush()


if __name__ == "__main__":
    main()

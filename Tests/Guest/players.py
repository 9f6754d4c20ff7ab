"""The player scenarios (scripts/vm-test --players): the players AmpliPi
runs, from Debian's packages (aplay, cvlc, gmediarender, shairport-sync)
and go-librespot's stand-in (Tests/Guest/players/go-librespot.c), on the
snd-aloop loopbacks with AmpliPi's device layout, as the user pi.

Each player-NAME scenario records what the player does when its device is
busy (started by hand as AmpliPi starts it, with an aplay holding the
device), its /proc/PID/cmdline after start, and checks under monitord:
  (a) a SIGKILL and then a SIGSEGV are restarted with backoff (1 s, 2 s);
  (b) a leftover instance with the same identity holding the device is
      ended (--stale-match) and the new one plays, while a decoy of the same
      binary with another config and device, and another binary whose argv
      carries the same identity, stay alive;
  (c) a stop ends the player and everything it started within the stop
      timeout.
(a) and (c) run on the player's AmpliPi device (a dmix: lbNc or chN) under
both of AmpliPi's layouts (one shared ipc_key, one key per dmix); (b) and
the busy behaviour run on lb3x, a bare hw substream (amplipi/exclusive.conf),
which a second opener finds busy (EBUSY), and (b) once more on the
player's own lbNc where AmpliPi gives it one: there a second client gets
EINVAL ("unable to open slave") while one plays. What a leftover on a dmix
does to the gate is also recorded by player-aplay (dmix_leftover).
"""
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

from scenarios import (MONITORD, PI_UID, Failure, Skip, alive, alsa_env, aplay, as_pi, children,
                       describe, exe, note, pcm_node, plays, status_file, uid_of, wait_device_idle,
                       wait_for, wait_opens, LOGDIR, fds_on)

LAYOUT_LABELS = {"amplipi-keys": "per_key", "amplipi": "shared_key"}
SRCS = "/home/pi/.config/amplipi/srcs"
BUSY = "lb3x"       # held by an aplay for the busy behaviour, the leftover's in (b)
OTHER = "lb5x"      # the decoy of the same binary plays here
BACKOFF = ["--backoff-initial", "1s", "--backoff-max", "8s", "--backoff-reset", "60s"]
STOP_TIMEOUT_S = 3
# monitord runs as pi: its status files go where pi may write.
STATUS_DIR = "/tmp/pi-status"


def tree(pid):
    """pid and all its descendants."""
    result = [pid]
    for child in children(pid):
        result += tree(child)
    return result


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return None


def log_text(proc):
    with open(proc.log_path, errors="replace") as f:
        return f.read()


def show_log(proc, limit=25):
    """A passing check's log, for the serial console (read by people)."""
    lines = log_text(proc).splitlines()
    note(f"--- {proc.log_path} ({len(lines)} lines)")
    for line in lines[:limit]:
        note("    " + line)


def pi_dir(path):
    os.makedirs(path, exist_ok=True)
    for root, dirs, _ in os.walk("/home/pi"):
        os.chown(root, PI_UID, PI_UID)


def pi_file(path, text):
    pi_dir(os.path.dirname(path))
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, PI_UID, PI_UID)


# --- the players ---------------------------------------------------------------------

class Player:
    """How AmpliPi runs one player. A slot is AmpliPi's virtual source
    number: it names the config (srcs/vN) and the ports."""
    name = ""
    exe = ""             # /proc/PID/exe of the running player
    home_device = ""     # the device AmpliPi gives it (a dmix)
    opens_at_start = True

    def argv(self, device, slot):
        raise NotImplementedError

    def identity(self, device, slot):
        """The --stale-match arguments: what tells this instance apart."""
        raise NotImplementedError

    def command(self, device, slot):
        """The command monitord runs (the same as argv unless noted)."""
        return self.argv(device, slot)

    def prepare(self, device, slot):
        pass

    def play(self, pid, device, slot):
        """Make an idle player open its device (a client pressing play)."""

    def busy_lines(self, text):
        return len(re.findall(r"busy", text, re.IGNORECASE))


class Aplay(Player):
    """fmradio.py: rtl_fm | redsea | aplay -r 171000 -f S16_LE --device chN
    (here /dev/zero stands in for the pipe)."""
    name, exe, home_device = "aplay", "/usr/bin/aplay", "ch2"

    def argv(self, device, slot):
        return ["aplay", "-r", "171000", "-f", "S16_LE", "--device", device, "/dev/zero"]

    def identity(self, device, slot):
        return ["--device", device]


class Cvlc(Player):
    """aux.py: cvlc -A alsa --alsa-audio-device chN alsa://plughw:cmedia8chint,0
    vlc://quit. cvlc is a shell script that execs /usr/bin/vlc -I dummy, so
    the running player's executable is vlc: monitord runs `vlc -I dummy ...`
    to have an identity whose executable matches (player-cvlc records what
    `cvlc` as the command does)."""
    name, exe, home_device = "cvlc", "/usr/bin/vlc", "ch0"
    # The USB card's capture side (one substream) is the aux input; the
    # decoy reads another loopback's capture side.
    INPUTS = {3: "alsa://plughw:cmedia8chint,0", 5: "alsa://plughw:Loopback_5,1"}

    def argv(self, device, slot):
        return ["cvlc", "-A", "alsa", "--alsa-audio-device", device, self.INPUTS.get(slot, self.INPUTS[3]),
                "vlc://quit"]

    def command(self, device, slot):
        return ["vlc", "-I", "dummy"] + self.argv(device, slot)[1:]

    def identity(self, device, slot):
        return ["--alsa-audio-device", device, self.INPUTS.get(slot, self.INPUTS[3])]


class GoLibrespot(Player):
    """spotify_connect.py: streams/go-librespot --config_dir srcs/vN, with
    config.yml naming audio_device lbNc and the API server on 3678+N. The
    stand-in opens its device on SIGUSR1 (a controller pressing play)."""
    name, home_device, opens_at_start = "go-librespot", "lb3c", False
    exe = "/home/pi/amplipi-dev/streams/go-librespot"

    def argv(self, device, slot):
        return [self.exe, "--config_dir", f"{SRCS}/v{slot}"]

    def identity(self, device, slot):
        return [f"{SRCS}/v{slot}"]

    def prepare(self, device, slot):
        pi_file(f"{SRCS}/v{slot}/config.yml",
                f"audio_device: {device}\ncredentials:\n  type: zeroconf\ndevice_name: rig{slot}\n"
                f"device_type: stb\nexternal_volume: true\nmixer_device: ''\nserver:\n  enabled: true\n"
                f"  port: {3678 + slot}\n")

    def play(self, pid, device, slot):
        # Not before its handler is in place (SIGUSR1 would end it).
        if wait_for(lambda: catches(pid, signal.SIGUSR1), 30, 0.01) is None:
            raise Failure(f"pid {pid} never caught SIGUSR1")
        os.kill(pid, signal.SIGUSR1)


def catches(pid, sig):
    """pid has a handler for sig (/proc/PID/status SigCgt)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(mask & (1 << (int(sig) - 1)))


class ShairportSync(Player):
    """airplay.py: streams/shairport-sync -c srcs/vN/shairport.conf with
    alsa.output_device lbNc, port 5100+100N. It opens its device only while
    an AirPlay client plays; with alsa.disable_standby_mode = "always" (a
    setting AmpliPi does not use) it opens it at start and keeps it, which
    is what lets the gate and (b) see it. Needs avahi-daemon on a system
    D-Bus (started once, ensure_avahi)."""
    name, exe, home_device = "shairport-sync", "/usr/bin/shairport-sync", "lb2c"
    standby_always = True

    def argv(self, device, slot):
        return ["shairport-sync", "-c", f"{SRCS}/v{slot}/shairport.conf"]

    def identity(self, device, slot):
        return [f"{SRCS}/v{slot}/shairport.conf"]

    def prepare(self, device, slot):
        ensure_avahi()
        standby = '  disable_standby_mode = "always";\n' if self.standby_always else ""
        pi_file(f"{SRCS}/v{slot}/shairport.conf",
                f'general = {{\n  name = "rig{slot}";\n  port = {5100 + 100 * slot};\n'
                f'  udp_port_base = {6101 + 100 * slot};\n  drift = 2000;\n  resync_threshold = 0;\n'
                f'  log_verbosity = 0;\n}};\nalsa = {{\n  output_device = "{device}";\n'
                f'  audio_backend_buffer_desired_length = 11025;\n{standby}}};\n')


class Gmediarender(Player):
    """dlna.py: gmediarender --gstout-audiosink alsasink --gstout-audiodevice
    chN --gstout-initial-volume-db 0.0 -p PORT -u UUID -f NAME. It opens its
    device when a UPnP controller sets a URI and plays (play() does that
    over SOAP with a WAV file). libupnp needs a non-loopback interface: a
    dummy one (ensure_network)."""
    name, exe, home_device, opens_at_start = "gmediarender", "/usr/bin/gmediarender", "ch1", False

    def port(self, slot):
        return 49400 + slot

    def uuid(self, slot):
        return f"7b3c1a5e-0000-4000-8000-00000000000{slot}"

    def argv(self, device, slot):
        return ["gmediarender", "--gstout-audiosink", "alsasink", "--gstout-audiodevice", device,
                "--gstout-initial-volume-db", "0.0", "-p", str(self.port(slot)), "-u", self.uuid(slot),
                "-f", f"rig{slot}"]

    def identity(self, device, slot):
        return [self.uuid(slot)]

    def prepare(self, device, slot):
        ensure_network()
        ensure_wav()

    def play(self, pid, device, slot):
        base = f"http://{NET_ADDRESS}:{self.port(slot)}"
        control = None
        # libupnp serves the description once its init succeeded.
        deadline = time.monotonic() + 60
        while control is None and time.monotonic() < deadline and alive(pid):
            try:
                description = urllib.request.urlopen(f"{base}/description.xml", timeout=5).read().decode()
                found = re.search(r"AVTransport:1</serviceType>.*?<controlURL>(.*?)</controlURL>",
                                  description, re.S)
                control = found.group(1) if found else None
            except OSError:
                time.sleep(0.5)
        if control is None:
            raise Failure(f"gmediarender on port {self.port(slot)} serves no AVTransport")
        url = control if control.startswith("http") else base + ("" if control.startswith("/") else "/") + control
        # gmediarender 0.1 can abort on requests that come right after its
        # start (variable-container.c: UPnPLastChangeCollector_finish:
        # Assertion `object->open_transactions >= 1' failed): not at once.
        time.sleep(1)
        soap(url, "SetAVTransportURI", f"<CurrentURI>file://{WAV}</CurrentURI><CurrentURIMetaData></CurrentURIMetaData>")
        time.sleep(0.5)
        soap(url, "Play", "<Speed>1</Speed>")


NET_ADDRESS = "10.77.0.1"
WAV = "/tmp/rig/silence.wav"


def soap(url, action, arguments):
    body = ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
            f'<u:{action} xmlns:u="urn:schemas-upnp-org:service:AVTransport:1"><InstanceID>0</InstanceID>'
            f'{arguments}</u:{action}></s:Body></s:Envelope>').encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": 'text/xml; charset="utf-8"',
        "SOAPACTION": f'"urn:schemas-upnp-org:service:AVTransport:1#{action}"'})
    try:
        urllib.request.urlopen(request, timeout=10).read()
    except urllib.error.HTTPError as error:
        body = error.read().decode(errors="replace")
        code = re.search(r"<errorCode>(\d+)</errorCode>", body)
        raise PlayRefused(f"{action}_HTTP_{error.code}" + (f"_UPnP_{code.group(1)}" if code else "")) from None


class PlayRefused(Exception):
    """The player answered a play request with an error."""


def ensure_network():
    """A dummy interface with an address, multicast and a default route:
    libupnp wants an interface that is up, not loopback, multicast-capable
    (a dummy one is not by default), or it retries UpnpInit2 with
    UPNP_E_INVALID_INTERFACE."""
    if os.path.exists("/sys/class/net/dummy0"):
        return
    for cmd in (["modprobe", "dummy", "numdummies=1"], ["ip", "link", "set", "dummy0", "multicast", "on"],
                ["ip", "link", "set", "dummy0", "up"],
                ["ip", "addr", "add", f"{NET_ADDRESS}/24", "dev", "dummy0"],
                ["ip", "route", "add", "default", "dev", "dummy0"]):
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise Failure(f"{' '.join(cmd)}: {result.stderr.strip()}")


def ensure_wav():
    if os.path.exists(WAV):
        return
    import wave
    with wave.open(WAV, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(b"\0" * 4 * 44100 * 120)
    os.chmod(WAV, 0o644)


def ensure_avahi():
    """A system D-Bus and avahi-daemon, as on AmpliPi: shairport-sync
    exits 1 without them ("Could not establish mDNS advertisement!")."""
    if os.path.exists("/run/avahi-daemon/pid"):
        return
    os.makedirs("/run/dbus", exist_ok=True)
    for cmd in (["dbus-daemon", "--system", "--fork"], ["avahi-daemon", "--daemonize", "--no-chroot"]):
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise Failure(f"{' '.join(cmd)}: {result.stdout.strip()} {result.stderr.strip()}")
    if wait_for(lambda: os.path.exists("/run/avahi-daemon/pid"), 30) is None:
        raise Failure("avahi-daemon did not start")


# --- the checks ------------------------------------------------------------------------

def player_child(sup, player):
    for pid in children(sup.pid):
        if exe(pid) == player.exe:
            return pid
    return None


def make_play(player, pid, device, slot, timeout=60):
    """Trigger playback where needed and wait until pid plays DEVICE."""
    if not player.opens_at_start:
        player.play(pid, device, slot)
    playing = lambda: plays(pid, device) or any(plays(t, device) for t in tree(pid))
    seconds = wait_for(lambda: playing() or not alive(pid), timeout)
    return seconds if seconds is not None and playing() else None


ABORTED_STARTS = []


def start_playing(p, player, device, slot, name, env, **kwargs):
    """A player started by hand (as pi) that plays DEVICE; one that dies
    while being made to play (gmediarender's assertion) is started again,
    up to three times, and counted in ABORTED_STARTS."""
    for attempt in range(3):
        proc = p.start(as_pi(player.argv(device, slot)), name, env=env, **kwargs)
        try:
            if make_play(player, proc.pid, device, slot) is not None:
                return proc
        except (OSError, PlayRefused) as error:
            note(f"{name}: play request failed: {error}")
        if proc.poll() is None:
            raise Failure(f"{name}: {player.name} never played {device}: {describe(device)}")
        show_log(proc, 12)
        ABORTED_STARTS.append(f"{name}:{proc.returncode}")
    raise Failure(f"{name}: {player.name} died three times before playing {device}")


def busy_behaviour(p, player, env):
    """The player started by hand, as AmpliPi starts it, while an aplay
    holds its device: its exit code, or that it keeps running and how many
    times it logged the busy device in 8 s."""
    wait_device_idle(BUSY)
    holder = p.start(as_pi(aplay(BUSY)), "holder", env=env)
    if wait_for(lambda: plays(holder.pid, BUSY, sub=0), 30) is None:
        raise Failure(f"aplay never held {BUSY}")
    slot = 3
    player.prepare(BUSY, slot)
    proc = p.start(as_pi(player.argv(BUSY, slot)), f"{player.name}-busy", env=env)
    refused = ""
    if not player.opens_at_start:
        time.sleep(3)
        if proc.poll() is None:
            try:
                player.play(proc.pid, BUSY, slot)
            except PlayRefused as error:
                refused = f",play_request_refused_{error}"
    time.sleep(8)
    code = proc.poll()
    lines = player.busy_lines(log_text(proc))
    if code is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        behaviour = f"keeps_running,busy_logged_{lines}x_in_8s{refused}"
    else:
        behaviour = f"exit_{code},busy_logged_{lines}x{refused}"
    show_log(proc, 12)
    holder.send_signal(signal.SIGTERM)
    holder.wait(timeout=10)
    return behaviour


def crash_and_stop(p, player, layout):
    """Under monitord on the player's AmpliPi device: cmdline after start,
    (a) SIGKILL then SIGSEGV restarted after 1 s then 2 s, (c) a stop ends
    the whole tree within the stop timeout."""
    env = alsa_env(layout)
    device = player.home_device
    slot = 2
    wait_device_idle(device)
    wait_opens(device, env=env)
    player.prepare(device, slot)
    status = f"{STATUS_DIR}/{player.name}-{layout}.status"
    argv = player.command(device, slot)
    sup = p.start(as_pi([MONITORD, "--status-file", status, "--alsa-device", device,
                         "--stop-timeout", f"{STOP_TIMEOUT_S}s"] + BACKOFF + ["--"] + argv),
                  f"monitord-{layout}", env=env)
    figures = {}
    first = wait_for(lambda: player_child(sup, player) is not None, 60)
    if first is None:
        raise Failure(f"{layout}: monitord started no {player.exe}: {status_file(status)}")
    child = player_child(sup, player)
    if make_play(player, child, device, slot) is None:
        raise Failure(f"{layout}: {player.name} does not play {device}: {describe(device)}")
    seen = cmdline(child)
    figures["cmdline"] = "as_given" if seen == argv else "rewritten:" + ",".join(seen or [])
    if uid_of(child) != PI_UID:
        raise Failure(f"{layout}: the player runs as uid {uid_of(child)}")
    delays = []
    for number, sig in enumerate((signal.SIGKILL, signal.SIGSEGV), 1):
        old = player_child(sup, player)
        t0 = time.monotonic()
        os.kill(old, sig)
        waited = wait_for(lambda: player_child(sup, player) not in (None, old), 60, 0.02)
        if waited is None:
            raise Failure(f"{layout}: no restart after {sig.name}: {status_file(status)}")
        delays.append(time.monotonic() - t0)
        new = player_child(sup, player)
        if make_play(player, new, device, slot) is None:
            raise Failure(f"{layout}: the restarted {player.name} does not play {device}: {describe(device)}")
        restarts = lambda: int(status_file(status).get("restarts", "0") or 0)
        if wait_for(lambda: restarts() == number, 10) is None:
            raise Failure(f"{layout}: restarts={restarts()} after {number} crashes")
    if not (0.9 <= delays[0] and delays[1] >= 1.9 and delays[1] > delays[0]):
        raise Failure(f"{layout}: restart delays {delays[0]:.2f} s, {delays[1]:.2f} s are not a 1 s, 2 s backoff")
    figures["restart_s"] = f"{delays[0]:.1f},{delays[1]:.1f}"
    # (c)
    everything = tree(sup.pid)
    figures["tree"] = len(everything)
    t0 = time.monotonic()
    sup.send_signal(signal.SIGTERM)
    try:
        rc = sup.wait(timeout=STOP_TIMEOUT_S + 5)
    except subprocess.TimeoutExpired:
        raise Failure(f"{layout}: monitord still running {STOP_TIMEOUT_S + 5} s after SIGTERM")
    gone = wait_for(lambda: not any(alive(pid) for pid in everything), STOP_TIMEOUT_S + 5, 0.02)
    took = time.monotonic() - t0
    if gone is None or took > STOP_TIMEOUT_S + 1:
        left = [pid for pid in everything if alive(pid)]
        raise Failure(f"{layout}: after SIGTERM {took:.1f} s, still alive: {left}")
    figures["stop_s"] = f"{took:.2f}"
    figures["stop_exit"] = rc
    text = log_text(sup)
    figures["stop_sigkill"] = "yes" if "did not stop within" in text else "no"
    ended = re.findall(r"stopped: \S+ \(pid \d+\) ([^\n]*)", text)
    figures["stop_player"] = ended[-1].strip().replace(" ", "_") if ended else "?"
    return figures


def leftover_ended(p, player, env, command=None, expect_ended=True, device=BUSY):
    """(b) on DEVICE (lb3x, or the player's own lbNc dmix, where a second
    client gets EINVAL while the leftover plays): a leftover with the same identity holds the device; a
    decoy of the same binary plays to OTHER with another config; another
    binary (python3) carries the same identity in its argv. monitord with
    --stale-match ends exactly the leftover and the new one plays."""
    slot, other_slot = 3, 5
    wait_device_idle(device)
    wait_opens(device, env=env)
    wait_device_idle(OTHER)
    player.prepare(device, slot)
    player.prepare(OTHER, other_slot)
    identity = player.identity(device, slot)
    leftover = start_playing(p, player, device, slot, "leftover", env, start_new_session=True)
    same_binary = start_playing(p, player, OTHER, other_slot, "decoy-same-binary", env)
    other_binary = p.start(as_pi(["python3", "-c", "import time; time.sleep(1e6)"] + identity),
                           "decoy-other-binary", env=env)
    status = f"{STATUS_DIR}/{player.name}-stale.status"
    argv = command or player.command(device, slot)
    stale_args = [a for arg in identity for a in ("--stale-match", arg)]
    sup = p.start(as_pi([MONITORD, "--status-file", status, "--alsa-device", device, "--probe-interval", "500ms",
                         "--stale-after", "2", "--stop-timeout", "2s"] + stale_args + ["--"] + argv),
                  "monitord-stale", env=env)
    if not expect_ended:
        # Wait past several stale searches: nothing may be ended.
        wait_for(lambda: int(status_file(status).get("gate_failed_probes", "0") or 0) >= 8, 60)
        ended = re.findall(r"ending stale player pid (\d+)", log_text(sup))
        if ended or leftover.poll() is not None:
            raise Failure(f"{argv[0]}: monitord ended {ended} (leftover exit {leftover.poll()})")
        show_log(sup)
        searched = len(re.findall(r"no stale \S+ with", log_text(sup)))
        leftover_exe = exe(leftover.pid)
        sup.send_signal(signal.SIGTERM)
        sup.wait(timeout=10)
        return {"not_ended_failed_probes": status_file(status).get("gate_failed_probes", "?"),
                "searches_found_none": searched, "leftover_exe": leftover_exe}
    if wait_for(lambda: leftover.poll() is not None, 60) is None:
        raise Failure(f"the leftover is still running: {status_file(status)}")
    new = wait_for(lambda: player_child(sup, player) is not None, 60)
    if new is None:
        raise Failure(f"monitord started no new {player.name}: {status_file(status)}")
    child = player_child(sup, player)
    seconds = make_play(player, child, device, slot)
    sub = 0 if device.endswith("x") else None
    if seconds is None or not plays(child, device, sub=sub) and not any(plays(t, device, sub=sub) for t in tree(child)):
        raise Failure(f"the new {player.name} does not hold {device}: {describe(device)}")
    ended = re.findall(r"ending stale player pid (\d+)", log_text(sup))
    if ended != [str(leftover.pid)]:
        raise Failure(f"monitord ended {ended}, expected the leftover {leftover.pid}")
    dead = [name for name, proc in (("same_binary", same_binary), ("other_binary", other_binary))
            if proc.poll() is not None or not alive(proc.pid)]
    if dead:
        raise Failure(f"decoys ended: {','.join(dead)}")
    if not plays(same_binary.pid, OTHER) and not any(plays(t, OTHER) for t in tree(same_binary.pid)):
        raise Failure(f"the decoy {player.name} no longer plays {OTHER}")
    return {"leftover_exit": leftover.returncode, "decoys_alive": 2}


def run_player(p, player):
    os.makedirs(STATUS_DIR, exist_ok=True)
    os.chown(STATUS_DIR, PI_UID, PI_UID)
    ABORTED_STARTS.clear()
    figures = {"busy": busy_behaviour(p, player, alsa_env("amplipi"))}
    for layout in ("amplipi-keys", "amplipi"):
        for key, value in crash_and_stop(p, player, layout).items():
            figures[f"{LAYOUT_LABELS[layout]}_{key}"] = value
        p.end_all()
    figures.update(leftover_ended(p, player, alsa_env("amplipi")))
    if player.home_device.startswith("lb"):
        # (b) again on the player's own AmpliPi device, a dmix.
        p.end_all()
        figures.update({f"dmix_{key}": value for key, value in
                        leftover_ended(p, player, alsa_env("amplipi"), device=player.home_device).items()})
    if ABORTED_STARTS:
        figures["died_before_playing"] = ",".join(ABORTED_STARTS)
    return figures


def scenario_aplay(p):
    figures = run_player(p, Aplay())
    p.end_all()
    figures.update(dmix_leftover(p))
    return figures


def dmix_leftover(p):
    """What the gate sees of a leftover on a dmix device (AmpliPi's lbNc):
    the leftover plays, a new one opens next to it (mixed), so the gate
    passes and nothing is ended. Under both layouts."""
    figures = {}
    for layout in ("amplipi-keys", "amplipi"):
        env = alsa_env(layout)
        device = "lb4c"
        wait_device_idle(device)
        wait_opens(device, env=env)
        leftover = p.start(as_pi(Aplay().argv(device, 4)), f"dmix-leftover-{layout}", env=env,
                           start_new_session=True)
        if wait_for(lambda: plays(leftover.pid, device), 30) is None:
            raise Failure(f"{layout}: the leftover aplay never played {device}")
        status = f"{STATUS_DIR}/dmix-{layout}.status"
        sup = p.start(as_pi([MONITORD, "--status-file", status, "--alsa-device", device, "--stale-after", "2",
                             "--stale-match", "--device", "--stale-match", device, "--"]
                            + Aplay().argv(device, 4)), f"monitord-dmix-{layout}", env=env)
        if wait_for(lambda: plays(player_child(sup, Aplay()), device), 30) is None:
            raise Failure(f"{layout}: the new aplay does not play {device} next to the leftover")
        both = leftover.poll() is None and plays(leftover.pid, device)
        show_log(sup)
        show_log(leftover)
        text = log_text(sup)
        ended = re.findall(r"ending stale player pid (\d+)", text)
        ready = re.search(r"ready after (.+?), (\d+) probes", text)
        reasons = sorted(set(re.findall(r"is not available \(open: (\w+)", text)))
        label = LAYOUT_LABELS[layout]
        figures[f"{label}_dmix_leftover"] = "both_play" if both else f"leftover_exit_{leftover.poll()}"
        figures[f"{label}_dmix_ended"] = ",".join("leftover" if pid == str(leftover.pid) else pid
                                                  for pid in ended) or "none"
        figures[f"{label}_dmix_probes"] = (ready.group(2) + "/" + "+".join(reasons)) if ready else "1"
        sup.send_signal(signal.SIGTERM)
        sup.wait(timeout=10)
        leftover.send_signal(signal.SIGTERM)
        leftover.wait(timeout=10)
    return figures


def scenario_cvlc(p):
    player = Cvlc()
    figures = run_player(p, player)
    p.end_all()
    # AmpliPi's own command line: `cvlc` is /usr/bin/cvlc, a script; the
    # leftover's executable is /usr/bin/vlc, so it never matches.
    env = alsa_env("amplipi")
    figures.update({f"cvlc_command_{k}": v for k, v in
                    leftover_ended(p, player, env, command=player.argv(BUSY, 3), expect_ended=False).items()})
    return figures


def scenario_go_librespot(p):
    return run_player(p, GoLibrespot())


def scenario_gmediarender(p):
    return run_player(p, Gmediarender())


def scenario_shairport_sync(p):
    player = ShairportSync()
    figures = run_player(p, player)
    p.end_all()
    figures.update(shairport_default(p))
    return figures


def shairport_default(p):
    """(d) AmpliPi's own shairport.conf (no disable_standby_mode): the
    player opens its device only while a client plays, so an idle leftover
    does not hold it and the gate passes at once; what the new instance
    then meets is the leftover's RTSP port."""
    player = ShairportSync()
    player.standby_always = False
    env = alsa_env("amplipi")
    slot = 3
    wait_device_idle(BUSY)
    player.prepare(BUSY, slot)
    leftover = p.start(as_pi(player.argv(BUSY, slot)), "idle-leftover", env=env, start_new_session=True)
    time.sleep(3)
    if leftover.poll() is not None:
        raise Failure(f"the idle shairport-sync exited {leftover.returncode}")
    if fds_on(leftover.pid, pcm_node(BUSY)):
        raise Failure("the idle shairport-sync holds its device")
    status = f"{STATUS_DIR}/shairport-default.status"
    sup = p.start(as_pi([MONITORD, "--status-file", status, "--alsa-device", BUSY, "--stale-after", "2"]
                        + [a for arg in player.identity(BUSY, slot) for a in ("--stale-match", arg)]
                        + BACKOFF + ["--"] + player.argv(BUSY, slot)), "monitord-default", env=env)
    wait_for(lambda: int(status_file(status).get("restarts", "0") or 0) >= 2, 30)
    fields = status_file(status)
    last = fields.get("last_exit", "?")
    show_log(sup)
    new_log = re.findall(r"^(?!monitord)[^\n]*(?:port|already|another)[^\n]*", log_text(sup),
                         re.IGNORECASE | re.MULTILINE)
    sup.send_signal(signal.SIGTERM)
    sup.wait(timeout=10)
    alive_leftover = leftover.poll() is None
    return {"idle_leftover_holds_device": "no", "idle_gate": "passes",
            "new_instance_restarts": fields.get("restarts", "?"), "new_instance_last_exit": last,
            "idle_leftover_alive": "yes" if alive_leftover else "no",
            "new_instance_says": (new_log[0].strip()[-90:] if new_log else "?")}


SCENARIOS = {
    "player-aplay": scenario_aplay,
    "player-cvlc": scenario_cvlc,
    "player-gmediarender": scenario_gmediarender,
    "player-go-librespot": scenario_go_librespot,
    "player-shairport-sync": scenario_shairport_sync,
}
# The armv7 guest's root archive has only shairport-sync (and aplay, and the
# go-librespot stand-in built here) of these players.
ARMV7_SCENARIOS = ["player-aplay", "player-go-librespot", "player-shairport-sync",
                   "player-watch-intruder", "player-watch-leftover", "player-watch-port"]

# The running watch's scenarios (players_watch.py), with the same players.
from players_watch import SCENARIOS as WATCH_SCENARIOS  # noqa: E402
SCENARIOS.update(WATCH_SCENARIOS)

# What monitord adds to a stop (players_stops.py), with the same players: a
# measurement, run only when named.
from players_stops import SCENARIOS as STOP_SCENARIOS  # noqa: E402
SCENARIOS.update(STOP_SCENARIOS)
NAMED_ONLY = list(STOP_SCENARIOS)

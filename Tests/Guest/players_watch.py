"""The running watch with the real players (scripts/vm-test --players):

  watch-intruder  (e) shairport-sync under --alsa-gate watch, idle (AmpliPi's
                  own config: it opens its device only while a client
                  plays); an aplay opens its device: named in the status
                  file (holder_pid) and dropped after it exits; the player
                  is not restarted and the intruder is not ended.
  watch-leftover  (f) aplay (fmradio.py's player) on AmpliPi's lb4c dmix
                  under monitord; a leftover aplay with the same identity
                  starts mixing into the same device while it runs: ended by
                  the stale rule, a decoy aplay on that device with another
                  identity left alone, and the player plays on.
  watch-port      (g) shairport-sync under --alsa-gate watch with an idle
                  leftover holding its RTSP port: the new one exits 1 at
                  once; after 3 quick exits the leftover is ended and the
                  new one holds the port; a decoy on another config lives.

Each reports its times as figures (seconds, TCG).
"""
import os
import re
import signal
import time

from scenarios import (MONITORD, Failure, alive, alsa_env, aplay, as_pi, note, plays, status_file,
                       wait_device_idle, wait_for, wait_opens)
from players import (BACKOFF, BUSY, STATUS_DIR, Aplay, ShairportSync, log_text, player_child, show_log,
                     pi_dir)

SLOT, OTHER_SLOT = 3, 5


def prepare_status_dir():
    pi_dir(STATUS_DIR)


def listens(pid, port):
    """pid has a TCP socket listening on PORT (IPv4 or IPv6)."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            pass
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


def shairport(status, device, extra, env, p, name):
    player = ShairportSync()
    player.standby_always = False  # AmpliPi's own config: the device only while a client plays
    player.prepare(device, SLOT)
    stale = [a for arg in player.identity(device, SLOT) for a in ("--stale-match", arg)]
    sup = p.start(as_pi([MONITORD, "--status-file", status, "--alsa-gate", "watch", "--alsa-device", device]
                        + stale + extra + ["--"] + player.argv(device, SLOT)), name, env=env)
    return player, sup


def scenario_watch_intruder(p):
    prepare_status_dir()
    env = alsa_env("amplipi")
    wait_device_idle(BUSY)
    status = f"{STATUS_DIR}/watch-intruder.status"
    player, sup = shairport(status, BUSY, BACKOFF, env, p, "monitord-watch")
    if wait_for(lambda: status_file(status).get("state") == "running", 30) is None:
        raise Failure(f"shairport-sync did not start: {status_file(status)}")
    first = player_child(sup, player)
    time.sleep(2)  # settled: its mDNS advertisement up, its device closed
    intruder = p.start(as_pi(aplay(BUSY)), "intruder", env=env)
    if wait_for(lambda: plays(intruder.pid, BUSY, sub=0), 30) is None:
        raise Failure(f"the intruder never played {BUSY}")
    opened = time.monotonic()
    named = wait_for(lambda: status_file(status).get("holder_pid") == str(intruder.pid), 30)
    if named is None:
        raise Failure(f"the intruder was not named: {status_file(status)}")
    named = time.monotonic() - opened
    summary = status_file(status).get("summary", "")
    # Past the window a leftover would be ended in, twice over: an intruder never is.
    time.sleep(10)
    if intruder.poll() is not None or not alive(intruder.pid):
        raise Failure(f"the intruder was ended (exit {intruder.poll()})")
    intruder.send_signal(signal.SIGTERM)
    intruder.wait(timeout=10)
    gone = time.monotonic()
    dropped = wait_for(lambda: "holder_pid" not in status_file(status), 30)
    if dropped is None:
        raise Failure(f"the holder stayed named after it exited: {status_file(status)}")
    dropped = time.monotonic() - gone
    fields = status_file(status)
    if player_child(sup, player) != first or fields.get("restarts") != "0":
        raise Failure(f"shairport-sync was restarted: {fields}")
    text = log_text(sup)
    show_log(sup)
    if re.search(r"ending stale player", text):
        raise Failure("monitord tried to end the intruder")
    sup.send_signal(signal.SIGTERM)
    sup.wait(timeout=10)
    return {"named_s": f"{named:.2f}", "dropped_s": f"{dropped:.2f}", "intruder_ended": "no",
            "player_restarts": fields.get("restarts", "?"),
            "summary": summary.replace(" ", "_")[-60:]}


def scenario_watch_leftover(p):
    prepare_status_dir()
    env = alsa_env("amplipi")
    device = "lb4c"
    wait_device_idle(device)
    wait_opens(device, env=env)
    player = Aplay()
    status = f"{STATUS_DIR}/watch-leftover.status"
    identity = player.identity(device, SLOT)
    stale = [a for arg in identity for a in ("--stale-match", arg)]
    sup = p.start(as_pi([MONITORD, "--status-file", status, "--alsa-device", device, "--stop-timeout", "2s"]
                        + stale + ["--"] + player.argv(device, SLOT)), "monitord-player", env=env)
    if wait_for(lambda: plays(player_child(sup, player), device), 30) is None:
        raise Failure(f"the supervised aplay never played {device}: {status_file(status)}")
    child = player_child(sup, player)
    # a decoy of the same binary on the same device, without the identity (`-D`, not `--device`)
    decoy = p.start(as_pi(aplay(device)), "decoy", env=env)
    leftover = p.start(as_pi(player.argv(device, SLOT)), "leftover", env=env, start_new_session=True)
    if wait_for(lambda: plays(leftover.pid, device) and plays(decoy.pid, device), 30) is None:
        raise Failure(f"the leftover and the decoy never played {device} beside the player")
    began = time.monotonic()
    if wait_for(lambda: leftover.poll() is not None, 30) is None:
        raise Failure(f"the leftover was not ended: {status_file(status)}")
    ended = time.monotonic() - began
    text = log_text(sup)
    show_log(sup)
    named = re.findall(r"ending stale player pid (\d+)", text)
    if named != [str(leftover.pid)]:
        raise Failure(f"monitord ended {named}, expected the leftover {leftover.pid}")
    if decoy.poll() is not None or not alive(decoy.pid):
        raise Failure("the decoy was ended")
    if player_child(sup, player) != child or not plays(child, device):
        raise Failure(f"the supervised aplay no longer plays {device}: {status_file(status)}")
    decoy.send_signal(signal.SIGTERM)
    decoy.wait(timeout=10)
    sup.send_signal(signal.SIGTERM)
    sup.wait(timeout=10)
    return {"leftover_ended_s": f"{ended:.2f}", "leftover_exit": leftover.returncode, "decoy_alive": "yes",
            "player_plays_on": "yes"}


def scenario_watch_port(p):
    prepare_status_dir()
    env = alsa_env("amplipi")
    wait_device_idle(BUSY)
    player = ShairportSync()
    player.standby_always = False
    player.prepare(BUSY, SLOT)
    player.prepare("lb5x", OTHER_SLOT)
    port = 5100 + 100 * SLOT
    leftover = p.start(as_pi(player.argv(BUSY, SLOT)), "idle-leftover", env=env, start_new_session=True)
    decoy = p.start(as_pi(player.argv("lb5x", OTHER_SLOT)), "decoy", env=env)
    if wait_for(lambda: listens(leftover.pid, port), 30) is None:
        raise Failure(f"the idle leftover never listened on {port}")
    status = f"{STATUS_DIR}/watch-port.status"
    began = time.monotonic()
    _, sup = shairport(status, BUSY, BACKOFF, env, p, "monitord-port")
    if wait_for(lambda: leftover.poll() is not None, 60) is None:
        raise Failure(f"the leftover was not ended: {status_file(status)}")
    ended = time.monotonic() - began
    listening = wait_for(lambda: listens(player_child(sup, player) or 0, port), 60)
    if listening is None:
        raise Failure(f"the new shairport-sync never listened on {port}: {status_file(status)}")
    advertised = time.monotonic() - began
    text = log_text(sup)
    show_log(sup, 40)
    exits = len(re.findall(r"exited 1 after", text))
    if decoy.poll() is not None or not alive(decoy.pid):
        raise Failure("the decoy was ended")
    note(f"watch-port: leftover ended after {ended:.2f} s, {exits} quick exits; the new one listens at {advertised:.2f} s")
    sup.send_signal(signal.SIGTERM)
    sup.wait(timeout=10)
    decoy.send_signal(signal.SIGTERM)
    decoy.wait(timeout=10)
    return {"quick_exits": exits, "leftover_ended_s": f"{ended:.2f}", "new_one_listens_s": f"{advertised:.2f}",
            "decoy_alive": "yes"}


SCENARIOS = {
    "watch-intruder": scenario_watch_intruder,
    "watch-leftover": scenario_watch_leftover,
    "watch-port": scenario_watch_port,
}

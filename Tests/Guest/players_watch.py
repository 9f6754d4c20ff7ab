"""The running watch with the real players (scripts/vm-test --players):

  player-watch-intruder  (e) shairport-sync under --alsa-gate watch, idle (AmpliPi's
                  own config: it opens its device only while a client
                  plays); an aplay opens its device: named in the status
                  file (holder_pid) and dropped after it exits; the player
                  is not restarted and the intruder is not ended.
  player-watch-leftover  (f) go-librespot (the stand-in) under --alsa-gate watch,
                  idle; a leftover with the same --config_dir plays its
                  device while it runs: ended by the stale rule, a decoy on
                  another config playing another device left alone, and the
                  player plays its device after. The stand-in runs without
                  its API server here: every real player AmpliPi runs either
                  holds its device for its whole run (a leftover cannot take
                  it: EBUSY on a hw substream, EINVAL on AmpliPi's dmix, seen
                  here) or binds a port of its own config (shairport-sync's
                  RTSP port, gmediarender's UPnP port, go-librespot's API
                  port), so a leftover of the same config cannot run beside
                  it: that leftover is (g)'s.
  player-watch-port      (g) shairport-sync under --alsa-gate watch with an idle
                  leftover holding its RTSP port: the new one exits 1 at
                  once; after 3 quick exits the leftover is ended and the
                  new one holds the port; a decoy on another config lives.

Each reports its times as figures (seconds, TCG).
"""
import os
import re
import signal
import time
import urllib.parse

from scenarios import (MONITORD, PI_UID, Failure, alive, alsa_env, aplay, as_pi, note, plays, status_file,
                       wait_device_idle, wait_for)
from players import (BACKOFF, BUSY, OTHER, SRCS, STATUS_DIR, GoLibrespot, ShairportSync, log_text, pi_file,
                     player_child, show_log)

SLOT, OTHER_SLOT = 3, 5


def prepare_status_dir():
    os.makedirs(STATUS_DIR, exist_ok=True)
    os.chown(STATUS_DIR, PI_UID, PI_UID)


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
            "summary": urllib.parse.unquote(summary).replace(" ", "_")[-50:]}


def scenario_watch_leftover(p):
    prepare_status_dir()
    env = alsa_env("amplipi")
    player = GoLibrespot()
    for device, slot in ((BUSY, SLOT), (OTHER, OTHER_SLOT)):
        wait_device_idle(device)
        pi_file(f"{SRCS}/v{slot}/config.yml", f"audio_device: {device}\ndevice_name: rig{slot}\nserver:\n  enabled: false\n")
    status = f"{STATUS_DIR}/watch-leftover.status"
    stale = [a for arg in player.identity(BUSY, SLOT) for a in ("--stale-match", arg)]
    sup = p.start(as_pi([MONITORD, "--status-file", status, "--alsa-gate", "watch", "--alsa-device", BUSY,
                         "--stop-timeout", "2s"] + stale + ["--"] + player.argv(BUSY, SLOT)), "monitord-player", env=env)
    if wait_for(lambda: status_file(status).get("state") == "running", 30) is None:
        raise Failure(f"go-librespot did not start: {status_file(status)}")
    child = player_child(sup, player)
    decoy = p.start(as_pi(player.argv(OTHER, OTHER_SLOT)), "decoy", env=env)
    player.play(decoy.pid, OTHER, OTHER_SLOT)
    leftover = p.start(as_pi(player.argv(BUSY, SLOT)), "leftover", env=env, start_new_session=True)
    player.play(leftover.pid, BUSY, SLOT)
    if wait_for(lambda: plays(leftover.pid, BUSY, sub=0) and plays(decoy.pid, OTHER, sub=0), 30) is None:
        raise Failure(f"the leftover never played {BUSY} or the decoy {OTHER}")
    began = time.monotonic()
    if wait_for(lambda: leftover.poll() is not None, 30) is None:
        raise Failure(f"the leftover was not ended: {status_file(status)}")
    ended = time.monotonic() - began
    text = log_text(sup)
    show_log(sup)
    named = re.findall(r"ending stale player pid (\d+)", text)
    if named != [str(leftover.pid)]:
        raise Failure(f"monitord ended {named}, expected the leftover {leftover.pid}")
    if decoy.poll() is not None or not alive(decoy.pid) or not plays(decoy.pid, OTHER, sub=0):
        raise Failure("the decoy was ended, or no longer plays")
    if player_child(sup, player) != child:
        raise Failure(f"go-librespot was restarted: {status_file(status)}")
    player.play(child, BUSY, SLOT)
    if wait_for(lambda: plays(child, BUSY, sub=0), 30) is None:
        raise Failure(f"the player does not play {BUSY} after the leftover: {status_file(status)}")
    decoy.send_signal(signal.SIGTERM)
    decoy.wait(timeout=10)
    sup.send_signal(signal.SIGTERM)
    sup.wait(timeout=10)
    return {"leftover_ended_s": f"{ended:.2f}", "leftover_exit": leftover.returncode, "decoy_alive": "yes",
            "player_plays_after": "yes"}


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
    note(f"player-watch-port: leftover ended after {ended:.2f} s, {exits} quick exits; the new one listens at {advertised:.2f} s")
    sup.send_signal(signal.SIGTERM)
    sup.wait(timeout=10)
    decoy.send_signal(signal.SIGTERM)
    decoy.wait(timeout=10)
    return {"quick_exits": exits, "leftover_ended_s": f"{ended:.2f}", "new_one_listens_s": f"{advertised:.2f}",
            "decoy_alive": "yes"}


SCENARIOS = {
    "player-watch-intruder": scenario_watch_intruder,
    "player-watch-leftover": scenario_watch_leftover,
    "player-watch-port": scenario_watch_port,
}

"""What monitord adds to a stop, with the real players; a measurement, run only when named
(scripts/vm-test [--arch armv7] --players --scenario player-stop-cost):

  player-stop-cost  aplay (FM radio's last stage) and, where the guest has it, vlc (aux) are
                  stopped STOP_COST_ROUNDS times each (7) in two ways: alone, with a SIGKILL to
                  their process group (AmpliPi's stop of both before monitord), and under
                  `monitord --stop-timeout 0s --status-file FILE --alsa-device DEVICE` (AmpliPi's
                  stop of both under monitord), with a SIGTERM to monitord. Every process is pinned with a pidfd
                  before the stop, so each exit is timed at the kernel's instant.

Figures, medians in milliseconds (TCG): NAME_alone (the player gone), NAME_player (under
monitord: the player gone) and NAME_all (monitord gone too). The scenario fails when a stop
leaves anything running; the times are measured, not judged.
"""
import os
import select
import signal
import statistics
import time

from scenarios import MONITORD, Failure, alsa_env, as_pi, plays, wait_for
from players import STATUS_DIR, Aplay, Cvlc, player_child
from players_watch import prepare_status_dir

ROUNDS = int(os.environ.get("STOP_COST_ROUNDS", "7"))


def pin(pids):
    return [os.pidfd_open(pid) for pid in pids]


def wait_exits(fds, began, limit=5.0):
    """Seconds from BEGAN until each pinned process exited, in the order of FDS; None for one still
    running LIMIT seconds on."""
    when = [None] * len(fds)
    waiting = dict(zip(fds, range(len(fds))))
    while waiting and time.monotonic() - began < limit:
        ready, _, _ = select.select(list(waiting), [], [], 0.1)
        now = time.monotonic()
        for fd in ready:
            when[waiting.pop(fd)] = now - began
    for fd in fds:
        os.close(fd)
    return when


def stop_alone(p, player, argv, device, env):
    proc = p.start(as_pi(argv), f"{player.name}-alone", env=env, start_new_session=True)
    if wait_for(lambda: plays(proc.pid, device), 30) is None:
        raise Failure(f"{player.name} alone never played {device}")
    time.sleep(0.3)
    fds = pin([proc.pid])
    began = time.monotonic()
    os.killpg(proc.pid, signal.SIGKILL)
    (gone,) = wait_exits(fds, began)
    proc.wait(timeout=5)
    if gone is None:
        raise Failure(f"{player.name} outlived its SIGKILL by 5 s")
    return gone


def stop_supervised(p, player, argv, device, env, round_):
    status = f"{STATUS_DIR}/stop-cost-{player.name}-{round_}.status"
    sup = p.start(as_pi([MONITORD, "--stop-timeout", "0s", "--status-file", status, "--alsa-device", device, "--"] + argv),
                  f"{player.name}-monitord", env=env)
    if wait_for(lambda: plays(player_child(sup, player), device), 30) is None:
        raise Failure(f"{player.name} under monitord never played {device}")
    time.sleep(0.3)
    child = player_child(sup, player)
    fds = pin([child, sup.pid])
    began = time.monotonic()
    sup.send_signal(signal.SIGTERM)
    player_gone, all_gone = wait_exits(fds, began)
    code = sup.wait(timeout=5)
    if player_gone is None or all_gone is None:
        raise Failure(f"{player.name}: a stop under monitord left it running 5 s on")
    if code != 0:
        raise Failure(f"monitord exited {code} on SIGTERM")
    os.unlink(status)
    return player_gone, max(player_gone, all_gone)


def scenario_stop_cost(p):
    prepare_status_dir()
    env = alsa_env("amplipi")
    players = [(Aplay(), Aplay().argv("ch2", 0), "ch2")]
    if os.path.exists(Cvlc.exe):
        players.append((Cvlc(), Cvlc().command("ch0", 3), "ch0"))
    figures = {}
    for player, argv, device in players:
        alone, under, total = [], [], []
        for round_ in range(ROUNDS):
            alone.append(stop_alone(p, player, argv, device, env))
            player_gone, all_gone = stop_supervised(p, player, argv, device, env, round_)
            under.append(player_gone)
            total.append(all_gone)
        name = player.name
        figures[f"{name}_alone_ms"] = f"{statistics.median(alone) * 1000:.1f}"
        figures[f"{name}_player_ms"] = f"{statistics.median(under) * 1000:.1f}"
        figures[f"{name}_all_ms"] = f"{statistics.median(total) * 1000:.1f}"
        figures[f"{name}_rounds"] = ROUNDS
    return figures


SCENARIOS = {"player-stop-cost": scenario_stop_cost}

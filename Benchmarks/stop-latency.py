#!/usr/bin/env python3
"""What a supervisor adds to a stop: from the stop signal until the player is gone and the supervisor reaped.

Usage: Benchmarks/stop-latency.py [MONITORD] [--rounds N]   (MONITORD: dist/monitord by default)

Each row starts a player (`sleep 1000`, or a shell that ignores SIGTERM), lets it run 0.2 s, stops it and times the
stop until the process the caller started is reaped and nothing it started runs. The caller waits as AmpliPi's
utils.wait_exited() does: woken by the exit through a pidfd. Rows:

- the player alone, sent SIGKILL (AmpliPi's old aux and FM radio stops) or SIGTERM;
- the player under monitord, sent SIGTERM (monitord stops its group and exits), with a player that ends on SIGTERM
  and with one that ignores it under `--stop-timeout 0s` (AmpliPi's aux, FM radio and LMS);
- the player under the stand-in of AmpliPi's process_monitor.py (compare/process_monitor.py), sent SIGTERM: it
  forwards the signal and exits without waiting, so its stop is timed until the player has gone too.

Native figures: under emulation (the guests) every row is many times slower.
"""
import argparse
import os
import select
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def wait_exited(proc, timeout=10):
  fd = os.pidfd_open(proc.pid)
  try:
    if not select.select([fd], [], [], timeout)[0]:
      raise TimeoutError(f'{proc.args} still running after {timeout} s')
  finally:
    os.close(fd)
  proc.wait()


def tree(root):
  """ @root and every process below it """
  children = {}
  for entry in os.listdir('/proc'):
    if entry.isdigit():
      try:
        with open(f'/proc/{entry}/stat', encoding='utf-8') as stat:
          children.setdefault(int(stat.read().rsplit(')', 1)[1].split()[1]), []).append(int(entry))
      except OSError:
        continue
  found, frontier = [], [root]
  while frontier:
    pid = frontier.pop()
    found.append(pid)
    frontier += children.get(pid, [])
  return found


def alive(pid):
  try:
    with open(f'/proc/{pid}/stat', encoding='utf-8') as stat:
      return stat.read().rsplit(')', 1)[1].split()[0] != 'Z'
  except OSError:
    return False


def stop_once(argv, stop):
  """ Seconds from the stop until the process started from @argv is reaped and all below it have ended """
  proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
  time.sleep(0.2)
  started = tree(proc.pid)
  began = time.monotonic()
  stop(proc)
  wait_exited(proc)
  while any(alive(p) for p in started):
    time.sleep(0.0002)
  took = time.monotonic() - began
  for p in started:  # a player that outlived its supervisor (process_monitor.py) is not left to the next round
    if alive(p):
      os.kill(p, signal.SIGKILL)
  return took


def main():
  parser = argparse.ArgumentParser(description='What a supervisor adds to a stop (see the top of this file).')
  parser.add_argument('monitord', nargs='?', default=os.path.join(ROOT, 'dist', 'monitord'))
  parser.add_argument('--rounds', type=int, default=30)
  args = parser.parse_args()
  monitord, rounds = os.path.abspath(args.monitord), args.rounds
  process_monitor = os.path.join(HERE, 'compare', 'process_monitor.py')
  player = ['sleep', '1000']
  stubborn = ['sh', '-c', 'trap "" TERM; sleep 1000 & wait; wait']
  kill = lambda proc: proc.send_signal(signal.SIGKILL)
  term = lambda proc: proc.send_signal(signal.SIGTERM)
  kill_group = lambda proc: os.killpg(proc.pid, signal.SIGKILL)
  rows = [
    ('player alone, SIGKILL', player, kill),
    ('player alone, SIGTERM', player, term),
    ('monitord, player ends on SIGTERM', [monitord, '--'] + player, term),
    ('player ignoring SIGTERM alone, SIGKILL to its group', stubborn, kill_group),
    ('monitord --stop-timeout 0s, player ignoring SIGTERM', [monitord, '--stop-timeout', '0s', '--'] + stubborn, term),
    ('process_monitor.py (exits at once), until the player has too', [sys.executable, process_monitor] + player, term),
  ]
  print(f'stop latency, {rounds} rounds each, ms (median, p90, max); monitord: {monitord}')
  for label, argv, stop in rows:
    times_ms = sorted(stop_once(argv, stop) * 1000 for _ in range(rounds))
    print(f'  {label:62s} {statistics.median(times_ms):7.2f} {times_ms[int(0.9 * (rounds - 1))]:7.2f} '
          f'{times_ms[-1]:7.2f}')


if __name__ == '__main__':
  main()

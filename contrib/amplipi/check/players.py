"""Drives the patched call sites of contrib/amplipi/000*.patch for real, through AmpliPi's own stream classes:
  players.py SCENARIO   (airplay, spotify, dlna, aux, internetradio, fmradio, bluetooth, lms)
For each: the stream's output device is held by pcm-holder (a stand-in for a leftover player), the stream is started,
SourceInfo.supervisor is read back while monitord waits for the device; the device is released and the player runs
(supervisor None); the player crashes (SIGSEGV) and monitord restarts it; the stream is stopped and nothing it started
is left (this process is a child subreaper, so orphans would come back to it). Set up by check-patch: AMPLIPI (the
patched tree), HOME (amplipi-dev/bin/x64/monitord, amplipi-dev/streams), ALSA_CONFIG_PATH (lbNc, chN: the project's
monitordtest plugin, busy while another process has the device open), PATH (stand-ins first), PCM_HOLDER, the
D-Bus bus addresses (a private bus, with avahi-daemon on it for shairport-sync). The amplipi.streams package is a stub
(its __init__ imports every stream, celery, GPIO); amplipi.tasks (celery) too: only spotify imports it, for commands.
"""
import ctypes
import os
import resource
import signal
import subprocess
import sys
import time
import types

sys.path.insert(0, os.environ['AMPLIPI'])
import amplipi  # noqa: E402
import amplipi.utils as utils  # noqa: E402
pkg = types.ModuleType('amplipi.streams')
pkg.__path__ = [os.path.join(os.environ['AMPLIPI'], 'amplipi', 'streams')]
sys.modules['amplipi.streams'] = pkg
amplipi.streams = pkg
sys.modules['amplipi.tasks'] = types.ModuleType('amplipi.tasks')
amplipi.tasks = sys.modules['amplipi.tasks']
from amplipi.streams import base_streams  # noqa: E402

OUTPUTS = [f'ch{i}' for i in range(4)] + [f'lb{i}c' for i in range(12)]
utils.available_outputs = lambda: OUTPUTS  # AmpliPi's asound.conf names; aplay -L does not list plugin PCMs here
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the crashes below write no core files
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
T0 = time.monotonic()


def say(*words):
  print(f'[{time.monotonic() - T0:6.2f}s]', *words, flush=True)


def wait_until(what, predicate, timeout=20.0):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    value = predicate()
    if value:
      return value
    time.sleep(0.1)
  raise AssertionError(f'timed out after {timeout:.0f} s waiting for {what}')


def status(stream):
  return utils.read_monitord_status(stream._status_file) or {}


def running_pid(stream):
  """ The player's pid while the status file says it runs, else None (one read: monitord rewrites the file between
  two, and a pid read after the state may already be gone) """
  fields = status(stream)
  return int(fields['pid']) if fields.get('state') == 'running' and fields.get('pid') else None


def alive(pid):
  try:
    with open(f'/proc/{pid}/stat', encoding='utf-8') as stat:
      return stat.read().rsplit(')', 1)[1].split()[0] != 'Z'
  except FileNotFoundError:
    return False


def descendants():
  """ Every live process below this one (orphans included: this is a subreaper), as 'pid argv' """
  parent_of = {}
  for entry in os.listdir('/proc'):
    if entry.isdigit():
      try:
        with open(f'/proc/{entry}/stat', encoding='utf-8') as stat:
          fields = stat.read().rsplit(')', 1)[1].split()
        if fields[0] != 'Z':
          parent_of[int(entry)] = int(fields[1])
      except (FileNotFoundError, ProcessLookupError, IndexError):
        pass
  found, frontier = [], [os.getpid()]
  while frontier:
    parent = frontier.pop()
    for pid, ppid in parent_of.items():
      if ppid == parent:
        found.append(pid)
        frontier.append(pid)
  return [f'{pid} {cmdline(pid)}' for pid in sorted(found)]


def cmdline(pid):
  try:
    with open(f'/proc/{pid}/cmdline', 'rb') as file:
      return file.read().replace(b'\0', b' ').decode(errors='replace').strip()
  except FileNotFoundError:
    return '?'


def open_files(pid):
  links = []
  try:
    fds = os.listdir(f'/proc/{pid}/fd')
  except OSError:  # not yet readable while it execs, or gone
    return links
  for fd in fds:
    try:
      links.append(os.readlink(f'/proc/{pid}/fd/{fd}'))
    except OSError:
      pass
  return links


def reap():
  while True:
    try:
      if os.waitpid(-1, os.WNOHANG)[0] == 0:
        return
    except ChildProcessError:
      return


def hold(device):
  """ A stand-in for a leftover player: pcm-holder keeps @device open until SIGTERM """
  holder = subprocess.Popen([os.environ['PCM_HOLDER'], '-o', device], stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == 'ready', f'pcm-holder could not open {device}'
  say(f'{device} held by pcm-holder (pid {holder.pid})')
  return holder


def release(holder):
  holder.terminate()
  holder.wait(timeout=5)
  holder.stdout.close()


def steady_player(stream):
  """ The player's pid once it has run for 1 s (runvlc.py may exit 1 at once by itself, and be restarted) """
  while True:
    pid = wait_until('the player to run', lambda: running_pid(stream))
    time.sleep(1)
    if running_pid(stream) == pid:
      return pid
    say(f'pid {pid} did not last 1 s: {status(stream).get("last_exit")}')


def check_stream(stream, start, stop, device, crash=True, after_start=None, after_restart=None):
  """ The common run: held, released, crashed, stopped """
  before = set(descendants())  # another stream's processes, still running
  holder = hold(device)
  start()
  monitord = stream.proc if stream.stype != 'bluetooth' else None
  say('argv:', ' '.join(stream.proc.args) if stream.proc else ' '.join(stream.bt_proc.args))
  wait_until('the gate to wait', lambda: status(stream).get('state') == 'waiting-for-device')
  supervisor = stream.info().supervisor
  say('supervisor while held:', repr(supervisor))
  assert supervisor and device in supervisor, supervisor
  say('status file:', open(stream._status_file, encoding='utf-8').read().strip())
  say('GET /api: this source\'s info:', stream.info().json())
  release(holder)
  first = steady_player(stream)
  say(f'running: {status(stream).get("command")} (pid {first}); supervisor:', repr(stream.info().supervisor))
  assert stream.info().supervisor is None
  if after_start:
    after_start(first)
  if crash:
    os.kill(first, signal.SIGSEGV)
    say(f'SIGSEGV to pid {first}')
    again = wait_until('the restart', lambda: (lambda pid: pid if pid != first else None)(running_pid(stream)))
    say(f'restarted: pid {again}, restarts={status(stream).get("restarts")}, last_exit={status(stream).get("last_exit")}')
    assert not alive(first)
    if after_restart:
      after_restart(again)
  player = wait_until('the player', lambda: running_pid(stream))
  began = time.monotonic()
  stop()
  say(f'stopped in {time.monotonic() - began:.2f} s; monitord exit {monitord.returncode if monitord else "-"}')
  if monitord:
    assert monitord.returncode == 0, monitord.returncode
  assert stream._status_file is None
  time.sleep(0.5)
  reap()
  left = [d for d in descendants() if d not in before]
  say('left behind:', left or 'nothing')
  assert not left and not alive(player)


def mpris_follows(stream):
  """ A check that the stream's MPRIS reader is attached to the bus name shairport-sync pid owns """
  from dasbus.connection import SessionMessageBus
  bus = SessionMessageBus().proxy

  def check(pid):
    wait_until('the MPRIS reader', lambda: stream.info() and stream.mpris and stream._mpris_pid == pid)
    name = stream.mpris.service_suffix
    owner = bus.GetConnectionUnixProcessID(f'org.mpris.MediaPlayer2.{name}')
    say(f'MPRIS reader on {name}, owned by pid {owner}')
    assert owner == pid
  return check


def airplay():
  from amplipi.streams.airplay import AirPlay
  other = AirPlay('check other', ap2=False)
  other.activate()
  wait_until('the other AirPlay stream', lambda: status(other).get('state') == 'running')
  other_pid = int(status(other)['pid'])
  say(f'another AirPlay stream on vsrc {other.vsrc}: shairport-sync pid {other_pid}')
  stream = AirPlay('check', ap2=False)
  vsrc = base_streams.vsources._sources.index(None)
  check_stream(stream, stream.activate, stream.deactivate, f'lb{vsrc}c', after_start=mpris_follows(stream),
               after_restart=mpris_follows(stream))
  assert stream.mpris is None
  other.deactivate()


def airplay2():
  """ The AirPlay 2 call site: AmpliPi's own shairport-sync-ap2 build (Debian has none; one instance at most), here
  Debian's shairport-sync under that name (check-patch links it as streams/shairport-sync-ap2) """
  from amplipi.streams.airplay import AirPlay
  stream = AirPlay('check2', ap2=True)
  vsrc = base_streams.vsources._sources.index(None)

  def started(pid):
    assert status(stream).get('command') == 'shairport-sync-ap2', status(stream).get('command')
    mpris_follows(stream)(pid)
  check_stream(stream, stream.activate, stream.deactivate, f'lb{vsrc}c', after_start=started, after_restart=started)
  assert stream.mpris is None


def spotify():
  from amplipi.streams.spotify_connect import SpotifyConnect
  stream = SpotifyConnect('check')
  vsrc = base_streams.vsources._sources.index(None)
  check_stream(stream, stream.activate, stream.deactivate, f'lb{vsrc}c')


def dlna():
  from amplipi.streams.dlna import DLNA
  stream = DLNA('check')
  check_stream(stream, lambda: stream.connect(1), stream.disconnect, 'ch1')


def aux():
  """ Without the aux capture card (on a development machine) vlc exits 0 at once (its input fails, then vlc://quit):
  restart always brings it back. With one (the guest's snd-aloop card stands in for the USB card) vlc captures and
  plays: the common run """
  from amplipi.streams.aux import Aux
  stream = Aux('check')
  capture = subprocess.run(['arecord', '-q', '-D', 'plughw:cmedia8chint,0', '-f', 'S16_LE', '-d', '1', '/dev/null'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
  if capture.returncode == 0:
    say('plughw:cmedia8chint,0 captures: vlc plays the aux input')
    check_stream(stream, lambda: stream.connect(1), stream.disconnect, 'ch1')
    return
  holder = hold('ch1')
  stream.connect(1)
  monitord = stream.proc
  say('argv:', ' '.join(monitord.args))
  wait_until('the gate to wait', lambda: status(stream).get('state') == 'waiting-for-device')
  say('supervisor while held:', repr(stream.info().supervisor))
  assert 'ch1' in stream.info().supervisor
  release(holder)
  wait_until('two restarts after exit 0', lambda: int(status(stream).get('restarts', 0)) >= 2, timeout=30)
  say(f'restarts={status(stream)["restarts"]} last_exit={status(stream).get("last_exit")} state={status(stream)["state"]}')
  assert status(stream).get('last_exit') == 'exit:0'
  say('supervisor:', repr(stream.info().supervisor))
  began = time.monotonic()
  stream.disconnect()
  say(f'stopped in {time.monotonic() - began:.2f} s; monitord exit {monitord.returncode}')
  assert monitord.returncode == 0
  time.sleep(0.5)
  reap()
  say('left behind:', descendants() or 'nothing')
  assert not descendants()


def serve_silence():
  """ A station: 120 s of silence as a WAV file over HTTP on 127.0.0.1 """
  import http.server
  import threading
  import wave
  song = os.path.join(os.environ['HOME'], 'silence.wav')
  with wave.open(song, 'wb') as file:
    file.setnchannels(2)
    file.setsampwidth(2)
    file.setframerate(48000)
    file.writeframes(bytes(4 * 48000 * 120))
  handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=os.environ['HOME'])  # noqa: E731
  http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  return server, f'http://127.0.0.1:{server.server_port}/silence.wav'


def internetradio():
  from amplipi.streams.internet_radio import InternetRadio
  server, url = serve_silence()
  stream = InternetRadio('check', url, None, validate=False)
  check_stream(stream, lambda: stream.connect(1), stream.disconnect, 'ch1')
  server.shutdown()


def stale():
  """ A leftover runvlc.py (as a crashed AmpliPi leaves one) plays to ch1: monitord ends it by its identity (the
  script path, ch1), then starts its own; the pcm-holder that holds ch2 meanwhile, which is no runvlc.py, is left
  alone """
  from amplipi.streams.internet_radio import InternetRadio
  server, url = serve_silence()
  script = os.path.join(utils.get_folder('streams'), 'runvlc.py')
  bystander = hold('ch2')
  for attempt in range(1, 31):
    # runvlc.py often exits 1 at once here ("Stream in an unexpected state: State.NothingSpecial"): start it again
    leftover = subprocess.Popen([sys.executable, script, url, 'ch1'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if wait_until('the leftover to hold ch1 or exit', lambda: leftover.poll() is not None or any(
        link.endswith('/snd/ch1') for link in open_files(leftover.pid))) and leftover.poll() is None:
      break
    say(f'leftover runvlc.py exited {leftover.returncode} before it played (start {attempt})')
  else:
    raise AssertionError('no leftover runvlc.py played to ch1 in 30 starts')
  say(f'leftover runvlc.py (pid {leftover.pid}) plays to ch1')
  stream = InternetRadio('check', url, None, validate=False)
  stream.connect(1)
  wait_until('the gate to wait', lambda: status(stream).get('state') == 'waiting-for-device')
  say('supervisor while the leftover holds ch1:', repr(stream.info().supervisor))
  wait_until('the leftover to be ended', lambda: leftover.poll() is not None, timeout=40)
  say(f'leftover ended: {leftover.returncode}')
  pid = wait_until('the player to run', lambda: running_pid(stream), timeout=20)
  say(f'running: pid {pid}; supervisor:', repr(stream.info().supervisor))
  assert bystander.poll() is None, 'the bystander holding ch2 was ended'
  say(f'pcm-holder on ch2 (pid {bystander.pid}) still runs')
  release(bystander)
  stream.disconnect()
  server.shutdown()
  time.sleep(0.5)
  reap()
  say('left behind:', descendants() or 'nothing')
  assert not descendants()


def fmradio():
  from amplipi.streams.fm_radio import FMRadio
  stream = FMRadio('check', '96.1')

  def group(pid):
    return subprocess.run(['pgrep', '-a', '-g', str(pid)], capture_output=True, text=True, check=False).stdout

  def pipeline(pid):
    children = wait_until('rtl_fm | redsea | aplay', lambda: 'aplay' in group(pid) and 'cat /dev/zero' in group(pid) and group(pid))
    say('its process group:', ' | '.join(line for line in children.splitlines()))

  check_stream(stream, lambda: stream.connect(1), stream.disconnect, 'ch1', after_start=pipeline, after_restart=pipeline)


def bluetooth():
  from amplipi.streams.bluetooth import Bluetooth
  stream = Bluetooth('check')
  check_stream(stream, lambda: stream.connect(1), stream.disconnect, 'ch1')


def lms():
  from amplipi.streams.lms import LMS
  stream = LMS('check', server='127.0.0.1')
  vsrc = base_streams.vsources._sources.index(None)

  def stop():
    if stream.meta_proc is not None:  # lms_metadata.py, started from the current directory
      stream.meta_proc.kill()
      stream.meta_proc.wait()
      stream.meta_proc = None
    stream.deactivate()
  check_stream(stream, stream.activate, stop, f'lb{vsrc}c')


def without():
  """ No monitord in bin/x64 (a git-lfs pointer, as in a checkout without git-lfs): every stream starts its player as
  before, and SourceInfo.supervisor stays None """
  from amplipi.streams.airplay import AirPlay
  from amplipi.streams.spotify_connect import SpotifyConnect
  from amplipi.streams.dlna import DLNA
  from amplipi.streams.aux import Aux
  from amplipi.streams.internet_radio import InternetRadio
  from amplipi.streams.fm_radio import FMRadio
  from amplipi.streams.bluetooth import Bluetooth
  from amplipi.streams.lms import LMS
  assert utils.monitord_args() is None
  persistent = [AirPlay('check', ap2=False), SpotifyConnect('check'), LMS('check', server='127.0.0.1')]
  others = [DLNA('check'), Aux('check'), InternetRadio('check', 'http://127.0.0.1:9/x.mp3', None, validate=False),
            FMRadio('check', '96.1'), Bluetooth('check')]
  for stream in persistent + others:
    before = set(descendants())
    if stream in persistent:
      stream.activate()
    else:
      stream.connect(1)
    proc = stream.bt_proc if stream.stype == 'bluetooth' else stream.proc
    time.sleep(0.3)
    assert stream._status_file is None and stream.info().supervisor is None
    assert 'monitord' not in ' '.join(proc.args)
    say(f'{stream.stype}: {" ".join(proc.args)[:150]}; supervisor None')
    if stream in persistent:
      if getattr(stream, 'meta_proc', None) is not None:
        stream.meta_proc.kill()
        stream.meta_proc.wait()
        stream.meta_proc = None
      stream.deactivate()
    else:
      stream.disconnect()
    time.sleep(0.5)
    reap()
    left = [d for d in descendants() if d not in before]
    if stream.stype == 'bluetooth' and left and all(' aplay -q -D ch1 ' in f' {d} ' for d in left):
      # as before the series: bluealsa-aplay runs in a process group of its own (setpgrp), which the killpg of
      # Bluetooth.disconnect() does not reach
      say(f'{stream.stype}: left behind, as without the series: {left}')
      for leftover in left:
        os.kill(int(leftover.split()[0]), signal.SIGKILL)
    else:
      say(f'{stream.stype}: left behind: {left or "nothing"}')
      assert not left


SCENARIOS = {f.__name__: f for f in (airplay, airplay2, spotify, dlna, aux, internetradio, stale, fmradio, bluetooth, lms, without)}
if __name__ == '__main__':
  SCENARIOS[sys.argv[1]]()
  say(f'{sys.argv[1]}: ok')

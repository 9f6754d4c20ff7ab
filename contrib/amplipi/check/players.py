"""Drives the patched call sites of contrib/amplipi/000*.patch for real, through AmpliPi's own stream classes:
  players.py SCENARIO   (airplay, airplay2, spotify, dlna, aux, internetradio, stale, fmradio, bluetooth, lms,
                         crashloop, nohardware, nomonitord, stops, without, before)
For each player: its output device is held by pcm-holder (a stand-in for a leftover player), the stream is started,
and what its source shows is read back through AmpliPi's own controller (name, track, problem: Api.get_state()'s
source info, as AmpliPi's app and REST API read it) while monitord waits for the device; the device is released and the player runs (no problem);
the player crashes (SIGSEGV) and monitord restarts it; the stream is stopped (timed) and nothing it started is left
(this process is a child subreaper, so orphans would come back to it). crashloop, nohardware and nomonitord show the
other states a user can meet; stops, without and before time every stream's stop (STOP_ROUNDS times, 5) under
monitord, without it, and on AmpliPi at the series' base. Set up by check-patch: AMPLIPI (the tree), HOME (amplipi-dev/streams with monitord),
ALSA_CONFIG_PATH (lbNc, chN), PATH (stand-ins first), PCM_HOLDER, OLD_MONITORD (an ELF that exits 64 like a
monitord refusing an option), the D-Bus bus addresses (a private bus, with avahi-daemon on it for shairport-sync).
Two modules a controller without Redis or a Pandora account cannot import are stand-ins: amplipi.tasks (celery; only
spotify imports it, for commands) and pydora's pandora (no Pandora stream runs here).
"""
import ctypes
import os
import resource
import shutil
import select
import signal
import statistics
import subprocess
import sys
import threading
import time
import types

sys.path.insert(0, os.environ['AMPLIPI'])
import amplipi  # noqa: E402
import amplipi.utils as utils  # noqa: E402
for stand_in in ('amplipi.tasks', 'pandora', 'pandora.clientbuilder'):
  sys.modules[stand_in] = types.ModuleType(stand_in)
sys.modules['pandora.clientbuilder'].SettingsDictBuilder = None
amplipi.tasks = sys.modules['amplipi.tasks']
from amplipi.streams import base_streams  # noqa: E402

OUTPUTS = [f'ch{i}' for i in range(4)] + [f'lb{i}c' for i in range(12)]
utils.available_outputs = lambda: OUTPUTS  # AmpliPi's asound.conf names; aplay -L does not list plugin PCMs here
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the crashes below write no core files
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
T0 = time.monotonic()


def say(*words):
  print(f'[{time.monotonic() - T0:6.2f}s]', *words, flush=True)


def wait_until(what, predicate, timeout=20.0, seen=None):
  """ @seen: what to print when the wait times out (the status file, say), to tell why """
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    value = predicate()
    if value:
      return value
    time.sleep(0.1)
  raise AssertionError(f'timed out after {timeout:.0f} s waiting for {what}' + (f'; seen: {seen()}' if seen else ''))


API = None
SHOWN_ID = 9999  # the stream id source 0 shows: none of AmpliPi's own (1000 up, RCAs 996-999)


def controller():
  """ AmpliPi's controller, with mock hardware and mock streams of its own, made once before a scenario starts (it
  takes seconds under emulation). What it says while it looks for hardware this machine lacks (no preamp, no Pi, no
  serial port: tracebacks included) is not shown; an exception it raises is """
  global API
  if API is None:
    import argon2  # pylint: disable=import-outside-toplevel
    if not hasattr(argon2.PasswordHasher, 'from_parameters'):
      # Debian 12's argon2-cffi 21.1 predates PasswordHasher.from_parameters (21.2), which AmpliPi's auth.py (pinned
      # to 21.3.0) calls at import; the guests have no newer one for their Python: the same hasher, made the 21.1 way
      argon2.PasswordHasher.from_parameters = classmethod(lambda cls, p: cls(
        time_cost=p.time_cost, memory_cost=p.memory_cost, parallelism=p.parallelism, hash_len=p.hash_len,
        salt_len=p.salt_len, type=p.type))
    import amplipi.ctrl as ctrl  # pylint: disable=import-outside-toplevel
    from amplipi import models  # pylint: disable=import-outside-toplevel
    saved = [os.dup(1), os.dup(2)]
    quiet = os.open(os.devnull, os.O_WRONLY)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    try:
      API = ctrl.Api(models.AppSettings(mock_ctrl=True, mock_streams=True,
                                        config_file=os.path.join(os.environ['HOME'], 'house.json')))
    finally:
      sys.stdout.flush()
      sys.stderr.flush()
      for fd, original in ((1, saved[0]), (2, saved[1])):
        os.dup2(original, fd)
        os.close(original)
      os.close(quiet)
  return API


def read_back(stream):
  """ What a source playing @stream shows now, through AmpliPi's controller: Api.get_state() builds each source's info
  from the stream its input names, and source 0's input names @stream, which this check runs itself """
  api = controller()
  api.streams[SHOWN_ID] = stream
  api.status.sources[0].input = f'stream={SHOWN_ID}'
  return api.get_state().sources[0].info


def shown(stream, when):
  """ What the source playing @stream shows now (read_back), said and returned """
  info = read_back(stream)
  say(f'{when}: source shows name={info.name!r} track={info.track!r} problem={info.problem!r}')
  return info


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


def children(pid):
  found = []
  for entry in filter(str.isdigit, os.listdir('/proc')):
    try:
      with open(f'/proc/{entry}/stat', encoding='utf-8') as stat:
        if int(stat.read().rsplit(')', 1)[1].split()[1]) == pid:
          found.append(int(entry))
    except (FileNotFoundError, ProcessLookupError, IndexError):
      pass
  return found


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
  # PR_SET_PDEATHSIG: a check that fails on the way leaves no holder behind (nor its pipe, which ends this output)
  holder = subprocess.Popen([os.environ['PCM_HOLDER'], '-o', device], stdout=subprocess.PIPE, text=True,
                            preexec_fn=lambda: ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0))
  assert holder.stdout.readline().strip() == 'ready', f'pcm-holder could not open {device}'
  # the process with the device open: pcm-holder itself, or the aplay the guest's stand-in runs
  holder.device_pid = next(pid for pid in [holder.pid] + children(holder.pid)
                           if any(link.startswith('/dev/snd/pcm') for link in open_files(pid)))
  opened_by = '' if holder.device_pid == holder.pid else f', open in its pid {holder.device_pid}'
  say(f'{device} held by pcm-holder (pid {holder.pid}{opened_by})')
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


def check_stream(stream, start, stop, device, crash=True, after_start=None, after_restart=None, watched=False):
  """ The common run: held, released, crashed, stopped. @watched: the player starts at once though its output is held
  (--alsa-gate watch), the holder is named while it runs, and never ended """
  before = set(descendants())  # another stream's processes, still running
  holder = hold(device)
  start()
  monitord = stream.proc if stream.stype != 'bluetooth' else None
  say('argv:', ' '.join(stream.proc.args) if stream.proc else ' '.join(stream.bt_proc.args))
  if watched:
    assert '--alsa-gate watch' in ' '.join(stream.proc.args)
    wait_until('the holder named while the player runs',
               lambda: status(stream).get('state') == 'running'
               and status(stream).get('holder_pid') == str(holder.device_pid),
               seen=lambda: status(stream))
  else:
    wait_until('the gate to wait', lambda: status(stream).get('state') == 'waiting-for-device',
               seen=lambda: status(stream))
  wait_until('the source to say why', lambda: read_back(stream).problem, seen=lambda: status(stream))
  info = shown(stream, 'output held')
  assert device in info.problem and info.track == info.problem, info
  say('status file:', open(stream._status_file, encoding='utf-8').read().strip())
  assert holder.poll() is None, 'the holder was ended'
  release(holder)
  if watched:
    wait_until('the holder dropped', lambda: 'holder_pid' not in status(stream))
  first = steady_player(stream)
  say(f'running: {status(stream).get("command")} (pid {first})')
  assert shown(stream, 'running').problem is None
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
  say(f'stop: {stream.stype} {time.monotonic() - began:.2f} s (under monitord); monitord exit {monitord.returncode if monitord else "-"}')
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
  # its reader (and the metadata process it starts) comes from the stream's follower thread: before the run below
  wait_until('the other AirPlay stream\'s MPRIS reader', lambda: other._mpris_pid == other_pid)
  say(f'another AirPlay stream on vsrc {other.vsrc}: shairport-sync pid {other_pid}')
  stream = AirPlay('check', ap2=False)
  vsrc = base_streams.vsources._sources.index(None)
  check_stream(stream, stream.activate, stream.deactivate, f'lb{vsrc}c', after_start=mpris_follows(stream),
               after_restart=mpris_follows(stream), watched=True)
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
  check_stream(stream, stream.activate, stream.deactivate, f'lb{vsrc}c', after_start=started, after_restart=started,
               watched=True)
  assert stream.mpris is None


def spotify():
  from amplipi.streams.spotify_connect import SpotifyConnect
  stream = SpotifyConnect('check')
  vsrc = base_streams.vsources._sources.index(None)
  check_stream(stream, stream.activate, stream.deactivate, f'lb{vsrc}c', watched=True)


def dlna():
  from amplipi.streams.dlna import DLNA
  stream = DLNA('check')
  check_stream(stream, lambda: stream.connect(1), stream.disconnect, 'ch1', watched=True)


def aux():
  """ Without the aux capture card (on a development machine) vlc exits 0 at once (its input fails, then vlc://quit):
  it is started once (restart on failure), as before the series, and the source says the input is missing. With one
  (the guest's snd-aloop card stands in for the USB card) vlc captures and plays: the common run """
  from amplipi.streams.aux import Aux
  stream = Aux('check')
  capture = subprocess.run(['arecord', '-q', '-D', 'plughw:cmedia8chint,0', '-f', 'S16_LE', '-d', '1', '/dev/null'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
  if capture.returncode == 0:
    say('plughw:cmedia8chint,0 captures: vlc plays the aux input')
    check_stream(stream, lambda: stream.connect(1), stream.disconnect, 'ch1')
    return
  stream.connect(1)
  monitord = stream.proc
  say('argv:', ' '.join(monitord.args))
  assert '--restart' not in monitord.args
  monitord.wait(timeout=30)
  fields = status(stream)
  say(f'monitord ended by itself: exit {monitord.returncode}; state={fields.get("state")} restarts={fields.get("restarts")} '
      f'last_exit={fields.get("last_exit")}')
  assert fields.get('restarts') == '0' and fields.get('last_exit') == 'exit:0'
  assert shown(stream, 'no aux capture card').problem == 'Aux input not found'
  began = time.monotonic()
  stream.disconnect()
  say(f'stop: aux {time.monotonic() - began:.2f} s (under monitord, which had ended)')
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
  shown(stream, 'the leftover holds ch1')
  wait_until('the leftover to be ended', lambda: leftover.poll() is not None, timeout=40)
  say(f'leftover ended: {leftover.returncode}')
  pid = wait_until('the player to run', lambda: running_pid(stream), timeout=20)
  say(f'running: pid {pid}')
  shown(stream, 'running')
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
  FMRadio.tuner_present = staticmethod(lambda: True)  # the rtl_fm stand-in is the tuner here
  stream = FMRadio('check', '96.1')

  def group(pid):
    return subprocess.run(['pgrep', '-a', '-g', str(pid)], capture_output=True, text=True, check=False).stdout

  def pipeline(pid):
    children = wait_until('rtl_fm | redsea | aplay', lambda: 'aplay' in group(pid) and 'cat /dev/zero' in group(pid) and group(pid),
                          seen=lambda: f'{group(pid)!r}; status {status(stream)}')
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


def crashloop():
  """ A player that fails at once, every time (go-librespot here: a stand-in that exits 3): monitord backs off, and
  from the second failure on the source says so, with the exit """
  from amplipi.streams.spotify_connect import SpotifyConnect
  player = os.path.join(utils.get_folder('streams'), 'go-librespot')
  os.rename(player, player + '.real')
  try:
    with open(player, 'w', encoding='utf-8') as script:
      script.write('#!/bin/sh\necho "go-librespot stand-in: failing" >&2\nexit 3\n')
    os.chmod(player, 0o755)
    stream = SpotifyConnect('check')
    stream.activate()
    assert shown(stream, 'just started').problem is None
    wait_until('two failures', lambda: int(status(stream).get('failures', 0)) >= 2 and status(stream).get('state') == 'backing-off')
    info = shown(stream, 'failing again')
    assert info.problem and 'exit code 3' in info.problem and info.track == info.problem, info
    began = time.monotonic()
    stream.deactivate()
    say(f'stop: spotify {time.monotonic() - began:.2f} s (under monitord, backing off)')
  finally:
    os.replace(player + '.real', player)
  reap()
  say('left behind:', descendants() or 'nothing')
  assert not descendants()


def nohardware():
  """ FM radio without its RTL-SDR tuner (none here: the real check, sysfs): fmradio.py is started once (restart on
  failure), as before, and the source says what is missing """
  from amplipi.streams.fm_radio import FMRadio
  assert not FMRadio.tuner_present()
  stream = FMRadio('check', '96.1')
  stream.connect(1)
  say('argv:', ' '.join(stream.proc.args))
  assert '--restart' not in stream.proc.args
  assert shown(stream, 'no tuner').problem == 'FM radio tuner (RTL-SDR) not found'
  stream.disconnect()
  reap()
  say('left behind:', descendants() or 'nothing')
  assert not descendants()


def nomonitord():
  """ A streams/monitord that cannot start (an ELF that exits 64, as a monitord refusing an option does): the player
  does not run, and the source says why """
  from amplipi.streams.internet_radio import InternetRadio
  monitord = os.path.join(utils.get_folder('streams'), 'monitord')
  os.rename(monitord, monitord + '.real')
  try:
    shutil.copy(os.environ['OLD_MONITORD'], monitord)
    server, url = serve_silence()
    stream = InternetRadio('check', url, None, validate=False)
    stream.connect(1)
    stream.proc.wait(timeout=10)
    info = shown(stream, 'monitord exited')
    assert info.problem == 'Could not start monitord (exit code 64): update streams/monitord', info
    stream.disconnect()
    server.shutdown()
  finally:
    os.replace(monitord + '.real', monitord)
  reap()
  assert not descendants()


def before():
  """ AmpliPi at the series' base (AMPLIPI): every stream's stop, timed, to compare with the series' """
  stop_each('before the series')


def without():
  """ No monitord (a git-lfs pointer as streams/monitord, as in a checkout without git-lfs): every stream starts its
  player as before, and its source shows no problem. Each stop is timed """
  stop_each('the series, no monitord')


def stops():
  """ Every stream's stop under monitord, timed as before() and without() time theirs """
  stop_each('under monitord')


def stop_each(label):
  """ Each stream started and stopped STOP_ROUNDS times (5), each stop timed: until the call returns, and until
  nothing the stream started runs (before the series most stops return before their player has ended); the medians
  are what compare (one stop under emulation on a shared machine varies by tenths of a second). Also run on AmpliPi without the series, where
  the series' names do not exist """
  from amplipi.streams.airplay import AirPlay
  from amplipi.streams.spotify_connect import SpotifyConnect
  from amplipi.streams.dlna import DLNA
  from amplipi.streams.aux import Aux
  from amplipi.streams.internet_radio import InternetRadio
  from amplipi.streams.fm_radio import FMRadio
  from amplipi.streams.bluetooth import Bluetooth
  from amplipi.streams.lms import LMS
  series = hasattr(utils, 'monitord_args')
  supervised = series and utils.monitord_args() is not None
  assert supervised == (label == 'under monitord'), (label, supervised)
  if series:  # FM radio runs its whole pipeline (the rtl_fm stand-in as the tuner), as it does before the series
    FMRadio.tuner_present = staticmethod(lambda: True)
  rounds = int(os.environ.get('STOP_ROUNDS', '5'))
  persistent = (lambda: AirPlay('check', ap2=False), lambda: SpotifyConnect('check'),
                lambda: LMS('check', server='127.0.0.1'))
  others = (lambda: DLNA('check'), lambda: Aux('check'),
            lambda: InternetRadio('check', 'http://127.0.0.1:9/x.mp3', None, validate=False),
            lambda: FMRadio('check', '96.1'), lambda: Bluetooth('check'))
  for make in persistent + others:
    took, gone, players_gone = [], [], []
    for round_ in range(rounds):
      stream = make()
      took_, gone_, players_gone_ = stop_once(stream, make in persistent, series, supervised, show=round_ == 0)
      took.append(took_)
      gone.append(gone_)
      players_gone.append(players_gone_)
    ended = [g for g in gone if g is not None]
    all_gone = f'all gone after {statistics.median(ended):.2f} s' if ended else 'never all gone'
    if len(ended) < len(gone):
      all_gone += f' ({len(gone) - len(ended)} of {rounds} left something running 3 s on)'
    if supervised:  # the same without monitord's own exit
      all_gone = f'all but monitord gone after {statistics.median(players_gone):.2f} s, {all_gone}'
    say(f'stops: {stream.stype} median {statistics.median(took):.2f} s of {rounds}, {all_gone} ({label}):',
        ', '.join(f'{t:.2f}' for t in took))


class ExitClock:
  """ When the last of some processes exited, in seconds after start() (called before any can exit, once the pins
  and the thread are ready): each is pinned by a pidfd, which a thread waits on, so the instant is the kernel's
  (within a scheduling delay), whatever the stop waits for or not """

  def __init__(self, processes):
    """ @processes: 'pid argv' (descendants()) """
    self.began, self.last_exit = None, None  # monotonic instants
    self.pidfds, self.names, self.exits = [], {}, {}
    for process in processes:
      try:
        pidfd = os.pidfd_open(int(process.split()[0]))
      except ProcessLookupError:  # gone already
        continue
      self.pidfds.append(pidfd)
      self.names[pidfd] = os.path.basename(process.split()[1]) if len(process.split()) > 1 else process
    self.done = threading.Event()
    self.thread = threading.Thread(target=self._watch, daemon=True)
    self.thread.start()

  def start(self):
    """ The clock's zero: now (monotonic), which it returns """
    self.began = time.monotonic()
    return self.began

  def _watch(self):
    waiting = set(self.pidfds)
    while waiting and not self.done.is_set():
      ready, _, _ = select.select(list(waiting), [], [], 0.1)
      if ready:
        self.last_exit = time.monotonic()
        self.exits.update((fd, self.last_exit) for fd in ready)
        waiting -= set(ready)
    if not waiting:
      self.done.set()

  def each(self):
    """ Each process's exit, in seconds after the start, in the order they exited: 'name seconds' """
    return [f'{self.names[fd]} {self.exits[fd] - self.began:.3f}' for fd in sorted(self.exits, key=self.exits.get)]

  def seconds_but(self, name):
    """ Seconds from the start to the last exit of the processes not called @name; after seconds(), which found
    that all had exited """
    return max([self.exits[fd] - self.began for fd in self.exits if self.names[fd] != name], default=0.0)

  def seconds(self, until):
    """ Seconds from the start to the last exit, or None when one still ran at monotonic time @until """
    self.done.wait(max(0, until - time.monotonic()))
    finished = self.done.is_set()
    self.done.set()
    self.thread.join()
    for pidfd in self.pidfds:
      os.close(pidfd)
    if not finished:
      return None
    return max(0.0, self.last_exit - self.began) if self.last_exit is not None else 0.0


def settled(before, quiet=1.0, limit=10):
  """ Wait until the processes a stream started (those not in @before) have not changed for @quiet seconds: its
  player has started (bluetooth.py starts bluealsa-aplay after its first look for a phone) """
  last, since, deadline = None, time.monotonic(), time.monotonic() + limit
  while time.monotonic() < deadline:
    started = sorted(d for d in descendants() if d not in before)
    if started != last:
      last, since = started, time.monotonic()
    elif time.monotonic() - since >= quiet:
      return
    time.sleep(0.1)


def stop_once(stream, persistent, series, supervised, show):
  """ One start, one timed stop: (seconds until the call returned, seconds until all the stream started had ended or
  None, the same for all but monitord); what the stop left running is judged (without monitord only reported).
  @show: print the player's command line, and when each process exited """
  before = set(descendants())
  if persistent:
    stream.activate()
  else:
    stream.connect(1)
  proc = stream.bt_proc if stream.stype == 'bluetooth' else stream.proc
  if supervised:
    assert 'monitord' in ' '.join(proc.args)
    steady_player(stream)
  else:
    settled(before)  # its player has started too, as under monitord
    assert 'monitord' not in ' '.join(proc.args)
    if series:
      assert stream._status_file is None and read_back(stream).problem is None
  if show:
    say(f'{stream.stype}: {" ".join(proc.args)[:150]}')
  if getattr(stream, 'meta_proc', None) is not None:
    stream.meta_proc.kill()
    stream.meta_proc.wait()
    stream.meta_proc = None
  log = os.path.join(os.path.dirname(stream._status_file), 'log') if supervised else None
  logged = os.path.getsize(log) if log and os.path.exists(log) else 0  # another stream's lines, when it shares the folder
  # until nothing the stream started runs: the device is free for the next stream from then on
  last_exit = ExitClock([d for d in descendants() if d not in before])
  began = last_exit.start()
  if persistent:
    stream.deactivate()
  else:
    stream.disconnect()
  took = time.monotonic() - began
  if took > 0.5 and log and os.path.exists(log):  # what monitord said while the stop took its time
    with open(log, encoding='utf-8', errors='replace') as lines:
      lines.seek(logged if os.path.getsize(log) >= logged else 0)
      say(f'{stream.stype}: stop took {took:.2f} s; its log ends:', *lines.readlines()[-6:])
  gone = last_exit.seconds(until=began + took + 3)
  players_gone = last_exit.seconds_but('monitord') if gone is not None else None
  if show:  # where a stop's time goes
    say(f'{stream.stype}: returned after {took:.3f} s; exits:', ', '.join(last_exit.each()))
  time.sleep(0.5)
  reap()
  left = [d for d in descendants() if d not in before]
  if left and not supervised:
    # AmpliPi's own stops (before the series, and the series without monitord, which stops as before) are measured,
    # not judged: process_monitor.py exits on SIGTERM without waiting for its squeezelite, which can outlive the stop
    # by seconds; bluealsa-aplay runs in a process group of its own (setpgrp), which Bluetooth.disconnect()'s killpg
    # does not reach
    say(f'{stream.stype}: left behind {"before the series" if not series else "as without the series"}: {left}')
    for leftover in left:
      os.kill(int(leftover.split()[0]), signal.SIGKILL)
  else:
    assert not left, f'{stream.stype}: left behind: {left}'
  return took, gone, players_gone


SCENARIOS = {f.__name__: f for f in (airplay, airplay2, spotify, dlna, aux, internetradio, stale, fmradio, bluetooth, lms,
                                      crashloop, nohardware, nomonitord, stops, without, before)}
if __name__ == '__main__':
  if sys.argv[1] != 'before':  # AmpliPi at the series' base has no problem to read back
    controller()
  SCENARIOS[sys.argv[1]]()
  say(f'{sys.argv[1]}: ok')

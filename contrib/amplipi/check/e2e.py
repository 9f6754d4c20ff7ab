"""Drives the patched call sites for real: LMS._activate/_deactivate (squeezelite) and
PersistentStream.connect/disconnect (alsaloop), with whatever is in $HOME/amplipi-dev/streams/monitord.
ALSA's null PCM stands in for AmpliPi's loopbacks and DACs; amplipi/streams/__init__.py (celery, dbus,
pandora, ...) is not run: the package is stubbed and only base_streams and lms are loaded.
usage: e2e.py lms OUTPUT SECONDS EXPECT | e2e.py alsaloop
  EXPECT: running (the supervisor is still up after SECONDS) or exited (it has ended by itself)"""
import os
import subprocess
import sys
import time
import types

sys.path.insert(0, os.environ['AMPLIPI'])
import amplipi.utils as utils  # noqa: E402
pkg = types.ModuleType('amplipi.streams')
pkg.__path__ = [os.path.join(os.environ['AMPLIPI'], 'amplipi', 'streams')]
sys.modules['amplipi.streams'] = pkg
from amplipi.streams.lms import LMS  # noqa: E402

utils.virtual_connection_device = lambda vsrc: 'null'
utils.real_output_device = lambda src: 'null'
s = LMS('e2e', server='127.0.0.1')
if sys.argv[1] == 'lms':
  utils.virtual_output_device = lambda vsrc: sys.argv[2]
  s._activate(0)
  proc = s.proc
  time.sleep(float(sys.argv[3]))
  print('argv:', ' '.join(proc.args), flush=True)
  state = 'running' if proc.poll() is None else f'exited {proc.returncode}'
  print('supervisor:', state, flush=True)
  assert state.startswith(sys.argv[4]), f'expected {sys.argv[4]}'
  if s.meta_proc is not None:
    s.meta_proc.kill()
    s.meta_proc = None
  began = time.monotonic()
  s._deactivate()
  print(f'_deactivate: {time.monotonic() - began:.3f} s, supervisor exit {proc.returncode}', flush=True)
  assert proc.returncode == 0
  s.vsrc = None  # set by _activate(0) without allocating it: nothing for __del__ to free
else:
  s.vsrc = 0
  s.connect(1)
  proc = s._cproc
  time.sleep(1.5)
  print('argv:', ' '.join(proc.args), flush=True)
  children = subprocess.run(['pgrep', '-a', '-P', str(proc.pid)], capture_output=True, text=True, check=False).stdout
  print('children:', children.strip(), flush=True)
  assert 'alsaloop' in children and proc.poll() is None
  began = time.monotonic()
  s.disconnect()
  print(f'disconnect: {time.monotonic() - began:.3f} s, supervisor exit {proc.returncode}', flush=True)
  assert proc.returncode == 0
  s.vsrc = None  # set above without allocating it: nothing for __del__ to free

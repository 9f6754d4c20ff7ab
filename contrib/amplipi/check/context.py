# Stands in for AmpliPi's tests/context.py where AmpliPi's whole Python is not installed (the guests: its pins that
# are pure Python only): amplipi.utils (with models and defaults) and the stream modules the tests use are loaded;
# the amplipi.streams package itself is a stub, so its __init__.py (every stream, celery, dbus) is not run, and
# amplipi.tasks (celery) is an empty module. amplipi.ctrl is not loaded: the tests that need it are not run here.
import os
import sys
import types
sys.path.insert(0, os.environ['AMPLIPI'])
import amplipi  # noqa: E402
import amplipi.utils  # noqa: E402,F401
streams = types.ModuleType('amplipi.streams')
streams.__path__ = [os.path.join(os.environ['AMPLIPI'], 'amplipi', 'streams')]
sys.modules['amplipi.streams'] = streams
amplipi.streams = streams
sys.modules['amplipi.tasks'] = types.ModuleType('amplipi.tasks')
amplipi.tasks = sys.modules['amplipi.tasks']
import amplipi.streams.base_streams  # noqa: E402,F401
try:
  import dasbus.connection  # noqa: F401
except ImportError:  # amplipi.mpris needs dasbus only to talk to D-Bus, which these tests replace
  for name in ('dasbus', 'dasbus.connection', 'dasbus.client', 'dasbus.client.proxy'):
    sys.modules[name] = types.ModuleType(name)
  sys.modules['dasbus.connection'].SessionMessageBus = None
  sys.modules['dasbus.client.proxy'].disconnect_proxy = None
import amplipi.mpris  # noqa: E402,F401
from amplipi.streams.airplay import AirPlay  # noqa: E402
from amplipi.streams.spotify_connect import SpotifyConnect  # noqa: E402
from amplipi.streams.aux import Aux  # noqa: E402
from amplipi.streams.fm_radio import FMRadio  # noqa: E402
from amplipi.streams.dlna import DLNA  # noqa: E402
from amplipi.streams.internet_radio import InternetRadio  # noqa: E402
from amplipi.streams.rca import RCA  # noqa: E402
from amplipi.streams.bluetooth import Bluetooth  # noqa: E402
from amplipi.streams.lms import LMS  # noqa: E402
for stream in (AirPlay, SpotifyConnect, Aux, FMRadio, DLNA, InternetRadio, RCA, Bluetooth, LMS):
  setattr(streams, stream.__name__, stream)

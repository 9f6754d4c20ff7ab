# Stands in for AmpliPi's tests/context.py, which imports every module (dbus, GPIO, celery, ...):
# amplipi.utils (with models and defaults) and amplipi.streams.base_streams are loaded; the amplipi.streams
# package itself is a stub, so its __init__.py (every stream, celery, dbus) is not run.
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
import amplipi.streams.base_streams  # noqa: E402,F401
try:
  import dasbus.connection  # noqa: F401
except ImportError:  # amplipi.mpris needs dasbus only to talk to D-Bus, which these tests replace
  for name in ('dasbus', 'dasbus.connection', 'dasbus.client', 'dasbus.client.proxy'):
    sys.modules[name] = types.ModuleType(name)
  sys.modules['dasbus.connection'].SessionMessageBus = None
  sys.modules['dasbus.client.proxy'].disconnect_proxy = None
import amplipi.streams.airplay  # noqa: E402,F401

# Stands in for AmpliPi's tests/context.py, which imports every module (dbus, GPIO, celery, ...):
# only amplipi.utils and what it imports (models, defaults) are loaded.
import os
import sys
sys.path.insert(0, os.environ['AMPLIPI'])
import amplipi  # noqa: E402,F401
import amplipi.utils  # noqa: E402,F401

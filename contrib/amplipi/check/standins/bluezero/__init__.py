"""Stands in for bluezero (BlueZ over D-Bus; no Bluetooth here), for contrib/amplipi/check: one phone, playing."""

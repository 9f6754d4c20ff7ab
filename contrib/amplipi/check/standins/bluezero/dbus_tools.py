"""bluezero.dbus_tools stand-in: one connected device with a media player."""
PLAYER = '/org/bluez/hci0/dev_00_11_22_33_44_55/player0'


def get_managed_objects():
  return {PLAYER: {}}


def get_device_address_from_dbus_path(path):
  return '00:11:22:33:44:55' if path.startswith('/org/bluez/hci0/dev_00_11_22_33_44_55') else ''

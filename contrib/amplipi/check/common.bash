# Sourced by contrib/amplipi/check-patch (on the host) and check/guest/run (in a players guest): the set-up both
# give the players' driver (check/players.py). CHECK is this directory.

# The stand-ins in RUN/bin and RUN/py with the driver (the players may not reach this checkout: a clone under a 0700
# home), AmpliPi's streams/*.py from AMPLIPI_TREE in HOME/amplipi-dev/streams, and Debian's shairport-sync where
# AmpliPi ships its own builds (shairport-sync, and shairport-sync-ap2: Debian has no AirPlay 2 build).
stage_players() {
  local check=$1 run=$2 home=$3 amplipi_tree=$4
  mkdir -p "$run/bin" "$run/py" "$home/amplipi-dev/streams" "$home/.config/amplipi"
  cp "$check"/standins/{bluealsa-aplay,rtl_fm,redsea,bluetoothctl,sudo} "$run/bin/"
  cp -r "$check/standins/bluezero" "$check/players.py" "$run/py/"
  cp "$amplipi_tree"/streams/*.py "$home/amplipi-dev/streams/"
  ln -sf /usr/bin/shairport-sync "$home/amplipi-dev/streams/shairport-sync"
  ln -sf /usr/bin/shairport-sync "$home/amplipi-dev/streams/shairport-sync-ap2"
}

# A private D-Bus bus at RUN/bus/socket, as both the session and the system bus (AirPlay's MPRIS name; avahi-daemon
# for shairport-sync's mDNS), and avahi-daemon's configuration for it (RUN/bus/avahi.conf). Its pid: RUN/bus/pid.
start_bus() {
  local run=$1
  mkdir -p "$run/bus"
  cat > "$run/bus/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$run/bus/socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/></policy>
</busconfig>
CONF
  dbus-daemon --config-file="$run/bus/bus.conf" --fork --print-pid > "$run/bus/pid"
  export DBUS_SESSION_BUS_ADDRESS=unix:path=$run/bus/socket DBUS_SYSTEM_BUS_ADDRESS=unix:path=$run/bus/socket
  printf '[server]\nuse-ipv6=no\n[publish]\npublish-hinfo=no\npublish-workstation=no\n' > "$run/bus/avahi.conf"
}

# AmpliPi's own chatter in the driver's output, left out of what is shown.
player_noise='^  \(starting\|stopping\)\|^Activating\|^deactivating\|disconnected$\|connected to \|^setting up config\|^shairport_args\|^running: \[\|pkg_resources'

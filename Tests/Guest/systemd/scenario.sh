#!/bin/bash
# The systemd guest's scenario (scripts/vm-test --systemd). systemd is PID 1;
# rig-systemd.service runs this once the system is up. It installs the
# monitord package, runs the packaged monitord-squeezelite@0 unit (a real
# squeezelite on lb0c = dmix on hw:Loopback,0, card 2), then upgrades,
# removes and purges the package (/rig holds two revisions), and reports each
# check on the serial console as one line
#   RIG result systemd-NAME pass|fail key=value...
# then powers the guest off. Facts are read from systemd (systemctl show,
# the journal), the kernel (/proc, /sys/fs/cgroup, /proc/asound) and never
# from monitord's own claims alone. With rig.checks=a,b on the kernel
# command line (scripts/vm-test --platform-only), long-wait, mac,
# watchdog-tight and upgrade run only when named; the others always run,
# since each later check starts from the state they leave.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0

# Stream 0: lb0c = plug -> dmix on hw:Loopback,0 (card 2), the card that
# AmpliPi's pcm_substreams=2 applies to (a module array parameter: the
# other loopbacks keep the default 8 substreams).
INSTANCE=0
UNIT=monitord-squeezelite@$INSTANCE.service
DEVICE=lb${INSTANCE}c
CARD=$((INSTANCE + 2))
NODE=/dev/snd/pcmC${CARD}D0p
STATUS_FILE=/run/monitord-squeezelite-$INSTANCE/status

emit() { echo "RIG $*"; }
note() { echo "rig[$(cut -d' ' -f1 /proc/uptime)]: $*"; }
# pass|fail NAME key=value...; a failure also prints the unit's journal.
result() {
    local status=$1 name=$2; shift 2
    emit result "systemd-$name" "$status" "$@"
    if [ "$status" != pass ]; then
        note "journal of $UNIT:"
        journalctl -u "$UNIT" -o short-monotonic --no-pager | tail -n 40 | sed 's/^/  /'
        systemctl status "$UNIT" --no-pager -l 2>&1 | sed 's/^/  /'
    fi
}
# Checks that can be left out: run unless rig.checks names others only.
checks=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^rig\.checks=//p')
wanted() { [ -z "$checks" ] || [[ ",$checks," == *",$1,"* ]]; }
verdict() { if [ -z "$1" ]; then echo pass; else echo fail; fi; }
prop() { systemctl show -p "$1" --value "$UNIT"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# The unit's squeezelite: monitord's child, found in the process table.
player() { local main; main=$(prop MainPID); [ "$main" -gt 0 ] 2>/dev/null && pgrep -P "$main" -x squeezelite | head -n 1; }
# Processes with an fd on a device node.
holders() {
    local p f out=""
    for p in /proc/[0-9]*; do
        for f in "$p"/fd/*; do
            if [ "$(readlink "$f" 2>/dev/null)" = "$1" ]; then out+="${p#/proc/} "; break; fi
        done
    done
    echo "${out% }"
}
# Substreams of the card's playback device 0 that are not closed.
open_substreams() { grep -l -v '^closed' /proc/asound/card$CARD/pcm0p/sub*/status 2>/dev/null | wc -l; }
journal() { journalctl -u "$UNIT" -o cat --no-pager "$@"; }
# The journal's monotonic time (µs) of the unit's first line containing TEXT.
journal_usec() {
    journalctl -u "$UNIT" -o short-monotonic --no-pager | grep -F -- "$1" | head -n 1 |
        sed -n 's/^\[ *\([0-9]*\)\.\([0-9]\{6\}\)\].*/\1\2/p'
}
# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_for() {
    local deadline=$(($(now_ms) + $1 * 1000)); shift
    until "$@"; do
        (($(now_ms) > deadline)) && return 1
        sleep 0.1
    done
}

emit boot "kernel=$(uname -r)" "systemd=$(systemctl --version | awk 'NR==1 { print $2 }')" "pid1=$(cat /proc/1/comm)" "uptime=$(cut -d' ' -f1 /proc/uptime)"
note "$(systemd-analyze time 2>&1 | head -n 1)"

# --- install ---------------------------------------------------------------------
why=""
# Two revisions of one version: -1 is installed, -2 is the upgrade.
deb=$(ls /rig/monitord_*-1_*.deb 2>/dev/null | head -n 1)
deb2=$(ls /rig/monitord_*-2_*.deb 2>/dev/null | head -n 1)
if [ -z "$deb" ]; then
    why="no_package_in_/rig"
# As an operator installs it: apt with the file's path (no network: the
# package has no dependencies).
elif ! apt-get install -y -q --no-install-recommends "$deb" >/tmp/install.log 2>&1; then
    why="apt-get_install_failed"; sed 's/^/  apt-get: /' /tmp/install.log
fi
systemctl daemon-reload
exec_start=$(systemctl show -p ExecStart --value "$UNIT" | sed -n 's/.*path=\([^ ;]*\).*/\1/p')
[ "$exec_start" = /usr/bin/monitord ] || why+=" ExecStart=$exec_start"
version=$(/usr/bin/monitord --version 2>&1 | tr ' ' '_')
[ "$(prop Type)" = notify ] || why+=" Type=$(prop Type)"
[ "$(prop User)" = pi ] || why+=" User=$(prop User)"
udevadm settle -t 30 2>/dev/null
wait_for 30 test -e "$NODE" || why+=" no_$NODE"
group=$(stat -c %G "$NODE" 2>/dev/null)
[ "$group" = audio ] || why+=" ${NODE}_group=$group"
# What the package adds besides the binary: the example env file as a
# conffile, the maintainer scripts, the MAC helper, the units' man page.
example=/etc/monitord/squeezelite.env.example
[ -f "$example" ] || why+=" no_$example"
grep -qx "$example" /var/lib/dpkg/info/monitord.conffiles 2>/dev/null || why+=" example_not_a_conffile"
for script in postinst prerm postrm; do [ -x "/var/lib/dpkg/info/monitord.$script" ] || why+=" no_$script"; done
[ -x /usr/libexec/monitord/squeezelite-mac ] || why+=" no_squeezelite-mac"
docs=$(prop Documentation | tr -d '"')
[ "$docs" = "man:monitord(1)" ] || why+=" Documentation=$docs"
result "$(verdict "$why")" install "package=$(basename "${deb:-none}")" "by=apt-get" "status=$(dpkg-query -W -f='${Status}' monitord 2>/dev/null | tr ' ' '_')" "version=$version" "exec=$exec_start" "node_group=$group" "conffile=$example" "Documentation=$docs" ${why:+"why=${why// /,}"}

# --- start: returns once READY=1 was sent (supervision runs), the player follows ----
why=""
t0=$(now_ms)
systemctl start "$UNIT"; rc=$?
start_ms=$(($(now_ms) - t0))
# Read at once: systemd made `start` return, nothing else happened since.
active=$(systemctl is-active "$UNIT")
# READY=1 comes before the gate's probe: the player follows within moments.
wait_for 30 player >/dev/null
player_ms=$(($(now_ms) - t0))
pid=$(player)
main=$(prop MainPID)
user=$( [ -n "$pid" ] && ps -o user= -p "$pid")
[ "$rc" = 0 ] || why+=" start_rc=$rc"
[ "$active" = active ] || why+=" active=$active"
[ -n "$pid" ] || why+=" no_squeezelite_child"
[ "$user" = pi ] || why+=" user=$user"
wait_for 10 bash -c "cut -d' ' -f1 $STATUS_FILE 2>/dev/null | grep -qx state=running"
state=$(cut -d' ' -f1 "$STATUS_FILE" 2>/dev/null)
[ "$state" = state=running ] || why+=" status_file=$state"
result "$(verdict "$why")" start "start_ms=$start_ms" "player_ms=$player_ms" "active=$active" "monitord=$main" "squeezelite=${pid:-none}" "user=$user" "status_file=$state" ${why:+"why=${why// /,}"}

# --- status: monitord's STATUS= line -------------------------------------------------
why=""
status_out=$(systemctl status "$UNIT" --no-pager -l 2>&1)
status_line=$(printf '%s\n' "$status_out" | sed -n 's/^ *Status: "\(.*\)"$/\1/p')
[ "$status_line" = "running squeezelite (pid $pid), 0 restarts" ] || why+=" status_mismatch"
printf '%s\n' "$status_out" | grep -Eq -- "(─|-)$main /usr/bin/monitord" || why+=" monitord_not_in_cgroup_tree"
printf '%s\n' "$status_out" | grep -Eq -- "(─|-)$pid /usr/bin/squeezelite" || why+=" squeezelite_not_in_cgroup_tree"
printf '%s\n' "$status_out" | sed 's/^/  status: /'
result "$(verdict "$why")" status "line=\"$status_line\"" ${why:+"why=${why// /,}"}

# --- watchdog: WatchdogSec=30s from the unit, pinged at half the period ----------------
why=""
wd_usec=$(prop WatchdogUSec)
w1=$(prop WatchdogTimestampMonotonic)
sleep 16
w2=$(prop WatchdogTimestampMonotonic)
[ "$wd_usec" = 30s ] || why+=" WatchdogUSec=$wd_usec"
[ "${w1:-0}" -gt 0 ] && [ "${w2:-0}" -gt "${w1:-0}" ] || why+=" timestamp_did_not_advance"
[ "$(prop MainPID)" = "$main" ] && [ "$(systemctl is-active "$UNIT")" = active ] || why+=" not_the_same_active_monitord"
result "$(verdict "$why")" watchdog "WatchdogUSec=$wd_usec" "ping_advanced_ms=$(( (${w2:-0} - ${w1:-0}) / 1000 ))" ${why:+"why=${why// /,}"}

# --- SIGKILL: the player comes back through monitord's backoff --------------------------
# The first kill ends a run longer than --backoff-reset (10 s): restart at
# once. The second kill ends a fresh run: the backoff's 2 s come first.
why=""
kill_round() { # OLD_PID -> prints "NEW_PID MS"
    local old=$1 t new
    t=$(now_ms)
    kill -KILL "$old"
    wait_for 60 bash -c "p=\$(pgrep -P $main -x squeezelite); [ -n \"\$p\" ] && [ \"\$p\" != $old ]"
    new=$(pgrep -P "$main" -x squeezelite | head -n 1)
    echo "${new:-none} $(($(now_ms) - t))"
}
read -r pid2 ms1 < <(kill_round "$pid")
read -r pid3 ms2 < <(kill_round "$pid2")
[ "$pid2" != none ] && [ "$pid3" != none ] || why+=" no_new_squeezelite"
# From monitord's exit line to its next start line, by the journal's clock
# (ms1/ms2 above are when this script saw the new pid: an upper bound).
gap() { local a b; a=$(journal_usec "squeezelite (pid $1) was killed by SIGKILL"); b=$(journal_usec "started squeezelite (pid $2)"); [ -n "$a" ] && [ -n "$b" ] && echo $(((10#$b - 10#$a) / 1000)) || echo none; }
gap1=$(gap "$pid" "$pid2"); gap2=$(gap "$pid2" "$pid3")
[ "$gap2" != none ] && [ "$gap2" -ge 2000 ] || why+=" second_restart_before_the_2s_backoff($gap2)"
[ "$(systemctl is-active "$UNIT")" = active ] || why+=" unit_not_active"
[ "$(prop MainPID)" = "$main" ] || why+=" monitord_replaced"
nrestarts=$(prop NRestarts)
[ "$nrestarts" = 0 ] || why+=" NRestarts=$nrestarts"
journal | grep -q "^squeezelite (pid $pid) was killed by SIGKILL after .*; restarting now" || why+=" no_first_restart_line"
journal | grep -q "^squeezelite (pid $pid2) was killed by SIGKILL after .*; restarting in 2 s (failure 1)" || why+=" no_backoff_line"
journal | grep -q "^started squeezelite (pid $pid3) (restart 2)" || why+=" no_restart_2_line"
wait_for 10 bash -c "systemctl status $UNIT --no-pager | grep -q 'Status: \"running squeezelite (pid $pid3), 2 restarts\"'" || why+=" status_not_2_restarts"
journal | grep -e 'SIGKILL' -e '(restart ' | sed 's/^/  journal: /'
result "$(verdict "$why")" sigkill "first=${pid}->${pid2}" "restart_gap1_ms=$gap1" "second=${pid2}->${pid3}" "restart_gap2_ms=$gap2" "seen_after_ms=$ms1,$ms2" "monitord=$main" "NRestarts=$nrestarts" ${why:+"why=${why// /,}"}
pid=$pid3

# --- stop: within TimeoutStopSec, nothing left ----------------------------------------
why=""
cgroup=/sys/fs/cgroup$(prop ControlGroup)
timeout_stop=$(prop TimeoutStopUSec)
procs_before=$(wc -l <"$cgroup/cgroup.procs" 2>/dev/null)
since=$(date +%s)
t0=$(now_ms)
systemctl stop "$UNIT"; rc=$?
stop_ms=$(($(now_ms) - t0))
[ "$rc" = 0 ] || why+=" stop_rc=$rc"
[ "$timeout_stop" = 10s ] || why+=" TimeoutStopUSec=$timeout_stop"
[ "$stop_ms" -lt 10000 ] || why+=" stop_took_${stop_ms}ms"
left=$(cat "$cgroup/cgroup.procs" 2>/dev/null | wc -l)
[ "$left" = 0 ] || why+=" ${left}_processes_left_in_$cgroup"
pgrep -x squeezelite >/dev/null && why+=" squeezelite_still_runs"
node_holders=$(holders "$NODE")
[ -z "$node_holders" ] || why+=" ${NODE}_held_by_${node_holders// /,}"
subs=$(open_substreams)
[ "$subs" = 0 ] || why+=" ${subs}_substreams_open"
result_prop=$(prop Result); main_status=$(prop ExecMainStatus)
[ "$result_prop" = success ] || why+=" Result=$result_prop"
[ "$main_status" = 0 ] || why+=" ExecMainStatus=$main_status"
journal | grep -q "^stopped: squeezelite (pid $pid)" || why+=" no_stopped_line"
journalctl --since "@$since" --no-pager -o cat | grep -e 'timed out' -e 'Killing process' && why+=" systemd_had_to_kill"
result "$(verdict "$why")" stop "stop_ms=$stop_ms" "TimeoutStopUSec=$timeout_stop" "procs_before=$procs_before" "procs_after=$left" "cgroup_exists=$([ -d "$cgroup" ] && echo yes || echo no)" "Result=$result_prop" ${why:+"why=${why// /,}"}

# --- journal priorities: the gate's warning, not the info lines ---------------------------
# Every playback substream of the loopback's device 0 is held by an aplay
# (as pi, so that monitord, also pi, can name the holders from
# /proc/PID/fd), so the dmix behind lbNc cannot open: monitord's gate waits
# and warns; the unit is active (READY=1 came at once) and its status says
# what it waits for.
why=""
hold() { # SUB -> pid of an aplay holding it (retried: the first open after a stop can fail with EINVAL, docs/gate.md)
    local t p
    for t in $(seq 60); do
        setpriv --reuid=pi --regid=pi --init-groups aplay -q -D "hw:$CARD,0,$1" -f S16_LE -r 48000 -c 2 -t raw /dev/zero </dev/null >/dev/null 2>&1 &
        p=$!
        sleep 1
        if kill -0 "$p" 2>/dev/null; then echo "$p"; return 0; fi
    done
    return 1
}
aplays=()
for sub in /proc/asound/card$CARD/pcm0p/sub*; do
    a=$(hold "${sub##*/sub}") && aplays+=("$a") || why+=" could_not_hold_${sub##*/}"
done
a0=${aplays[0]:-none}
total_subs=$(ls -d /proc/asound/card$CARD/pcm0p/sub* | wc -l)
[ "$(open_substreams)" = "$total_subs" ] || why+=" only_$(open_substreams)_of_${total_subs}_substreams_held"
systemctl start --no-block "$UNIT"
wait_for 60 bash -c "journalctl -u $UNIT -p warning -o cat --no-pager | grep -q '^$DEVICE is not available'" || why+=" no_gate_warning"
waiting_state=$(systemctl is-active "$UNIT")
# STATUS= follows the log line: give systemd a moment to read it.
wait_for 10 bash -c "systemctl show -p StatusText --value $UNIT | grep -q '^waiting for $DEVICE: '"
waiting_status=$(prop StatusText)
[ "$waiting_state" = active ] || why+=" state_while_waiting=$waiting_state"
[[ "$waiting_status" == "waiting for $DEVICE: "* ]] || why+=" status_while_waiting"
# Held for at least three failed probes: the unit stays active, waiting.
wait_for 60 bash -c "systemctl show -p StatusText --value $UNIT | grep -Eq '\\(([3-9]|[1-9][0-9]+) failed probes\\)\$'" || why+=" not_3_failed_probes"
later_state=$(systemctl is-active "$UNIT")
later_status=$(prop StatusText)
[ "$later_state" = active ] || why+=" state_after_3_probes=$later_state"
pgrep -x squeezelite >/dev/null && why+=" squeezelite_started_while_busy"
kill "${aplays[@]}" 2>/dev/null
t0=$(now_ms)
wait_for 90 player >/dev/null || why+=" no_player_after_release"
ready_ms=$(($(now_ms) - t0))
warnings=$(journalctl -u "$UNIT" -p warning -o cat --no-pager)
infos=$(journalctl -u "$UNIT" -p info -o cat --no-pager)
printf '%s\n' "$warnings" | sed 's/^/  -p warning: /'
printf '%s\n' "$warnings" | grep -q "^$DEVICE is not available" || why+=" warning_missing"
printf '%s\n' "$warnings" | grep -q "holder: pid $a0 (aplay" || why+=" holder_line_missing"
printf '%s\n' "$warnings" | grep -q '^started squeezelite' && why+=" info_line_shown_at_warning"
printf '%s\n' "$warnings" | grep -q 'ready after' && why+=" notice_line_shown_at_warning"
printf '%s\n' "$infos" | grep -q '^started squeezelite' || why+=" info_lines_missing_at_info"
printf '%s\n' "$infos" | grep -q "^$DEVICE ready after" || why+=" ready_notice_missing_at_info"
result "$(verdict "$why")" journal "substreams_held=${#aplays[@]}/$total_subs" "warning_lines=$(printf '%s\n' "$warnings" | grep -c .)" "info_lines=$(printf '%s\n' "$infos" | grep -c .)" "while_busy=$waiting_state,$later_state" "status=\"$waiting_status\"" "later=\"$later_status\"" "ready_after_release_ms=$ready_ms" ${why:+"why=${why// /,}"}
systemctl stop "$UNIT"

# --- long wait: a device held past TimeoutStartSec= -----------------------------------
# With a drop-in TimeoutStartSec=20s and lb0c held for 45 s (more than twice
# the timeout): `systemctl start` returns at once (READY=1 at supervision
# start; under TCG on a loaded host that took up to 7.3 s, hence 20 s),
# the unit is active and says what it waits for, systemd neither times the
# start out nor kills or restarts monitord, and squeezelite starts once,
# when the device is freed.
if wanted long-wait; then
why=""
mkdir -p "/run/systemd/system/$UNIT.d"
printf '[Service]\nTimeoutStartSec=20s\n' >"/run/systemd/system/$UNIT.d/timeout.conf"
systemctl daemon-reload
aplays=()
for sub in /proc/asound/card$CARD/pcm0p/sub*; do
    a=$(hold "${sub##*/sub}") && aplays+=("$a") || why+=" could_not_hold_${sub##*/}"
done
[ "$(open_substreams)" = "$total_subs" ] || why+=" only_$(open_substreams)_of_${total_subs}_substreams_held"
since=$(date +%s)
t0=$(now_ms)
timeout 60 systemctl start "$UNIT"; rc=$?
start_ms=$(($(now_ms) - t0))
main=$(prop MainPID)
[ "$rc" = 0 ] || why+=" start_rc=$rc"
[ "$start_ms" -lt 20000 ] || why+=" start_took_${start_ms}ms"
[ "$(prop TimeoutStartUSec)" = 20s ] || why+=" TimeoutStartUSec=$(prop TimeoutStartUSec)"
sleep 45
held_state=$(systemctl is-active "$UNIT")
held_status=$(prop StatusText)
# No start job left running: nothing ordered after the unit (a target at
# boot) waits for it.
jobs=$(systemctl list-jobs --no-legend 2>/dev/null | grep -c "$UNIT")
[ "$jobs" = 0 ] || why+=" ${jobs}_jobs_for_the_unit"
[ "$held_state" = active ] || why+=" state_while_held=$held_state"
[[ "$held_status" == "waiting for $DEVICE: "* ]] || why+=" status_while_held"
[ "$(prop MainPID)" = "$main" ] || why+=" monitord_replaced"
pgrep -x squeezelite >/dev/null && why+=" squeezelite_started_while_held"
kill "${aplays[@]}" 2>/dev/null
t1=$(now_ms)
wait_for 90 player >/dev/null || why+=" no_player_after_release"
freed_ms=$(($(now_ms) - t1))
nrestarts=$(prop NRestarts)
[ "$nrestarts" = 0 ] || why+=" NRestarts=$nrestarts"
[ "$(prop MainPID)" = "$main" ] || why+=" monitord_replaced_after_release"
starts=$(journalctl -u "$UNIT" --since "@$since" -o cat --no-pager | grep -c '^started squeezelite')
[ "$starts" = 1 ] || why+=" ${starts}_squeezelite_starts"
systemd_lines=$(journalctl --since "@$since" --no-pager -o cat | grep -F "$UNIT" | grep -e 'timed out' -e 'Killing process' -e 'Scheduled restart' -e 'Failed with result' || true)
[ -z "$systemd_lines" ] || { why+=" systemd_intervened"; printf '%s\n' "$systemd_lines" | sed 's/^/  journal: /'; }
result "$(verdict "$why")" long-wait "TimeoutStartSec=20s" "start_ms=$start_ms" "held_s=45" "state=$held_state" "jobs=$jobs" "status=\"$held_status\"" "NRestarts=$nrestarts" "monitord=$main" "squeezelite_after_release_ms=$freed_ms" "squeezelite_starts=$starts" ${why:+"why=${why// /,}"}
systemctl stop "$UNIT"
rm -f "/run/systemd/system/$UNIT.d/timeout.conf"
systemctl daemon-reload
fi

# --- mac: each instance its own address, stable, overridable -----------------------------
# Instances 0 and 1 (lb0c, lb1c): the -m that monitord passes to its
# squeezelite, read from monitord's argv (squeezelite splits its own copy of
# the address at the colons while parsing it, so its /proc/PID/cmdline shows
# only the first octet).
UNIT1=monitord-squeezelite@1.service
if wanted mac; then
why=""
mac_of() { # UNIT -> the -m argument of its squeezelite, once squeezelite runs
    local main
    main=$(systemctl show -p MainPID --value "$1")
    wait_for 30 bash -c "pgrep -P $main -x squeezelite >/dev/null" || return 1
    tr '\0' '\n' <"/proc/$main/cmdline" | sed -n '/^-m$/{n;p;q}'
}
systemctl start "$UNIT" "$UNIT1" || why+=" start_failed"
mac0=$(mac_of "$UNIT"); mac1=$(mac_of "$UNIT1")
systemctl restart "$UNIT"
mac0b=$(mac_of "$UNIT")
unicast_local() { [[ $1 =~ ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$ ]] && (( (16#${1:0:2} & 3) == 2 )); }
unicast_local "$mac0" || why+=" mac0_not_local_unicast($mac0)"
unicast_local "$mac1" || why+=" mac1_not_local_unicast($mac1)"
[ "$mac0" != "$mac1" ] || why+=" same_mac"
[ "$mac0" = "$mac0b" ] || why+=" mac0_changed_on_restart"
# The env file wins.
printf 'SQUEEZELITE_MAC=02:00:00:00:01:01\n' >/etc/monitord/squeezelite-1.env
systemctl restart "$UNIT1"
mac1b=$(mac_of "$UNIT1")
[ "$mac1b" = 02:00:00:00:01:01 ] || why+=" override_ignored($mac1b)"
systemctl stop "$UNIT" "$UNIT1"
result "$(verdict "$why")" mac "instance0=$mac0" "instance1=$mac1" "instance0_after_restart=$mac0b" "instance1_from_env=$mac1b" ${why:+"why=${why// /,}"}
fi

# --- watchdog, tight: WatchdogSec=2s for 10 s, no watchdog kill -----------------------------
if wanted watchdog-tight; then
why=""
mkdir -p "/run/systemd/system/$UNIT.d"
printf '[Service]\nWatchdogSec=2s\n' >"/run/systemd/system/$UNIT.d/watchdog.conf"
systemctl daemon-reload
systemctl start "$UNIT" || why+=" start_failed"
main=$(prop MainPID)
w1=$(prop WatchdogTimestampMonotonic)
since=$(date +%s)
# Distinct ping timestamps seen while sampling for 10 s (a lower bound on
# the pings: at 2 s monitord pings every second).
end=$(($(now_ms) + 10000))
pings=$( while (($(now_ms) < end)); do prop WatchdogTimestampMonotonic; sleep 0.3; done | sort -u | wc -l )
w2=$(prop WatchdogTimestampMonotonic)
[ "$(prop WatchdogUSec)" = 2s ] || why+=" WatchdogUSec=$(prop WatchdogUSec)"
[ "$(systemctl is-active "$UNIT")" = active ] || why+=" not_active"
[ "$(prop MainPID)" = "$main" ] || why+=" monitord_replaced"
[ "$(prop NRestarts)" = 0 ] || why+=" NRestarts=$(prop NRestarts)"
[ "${w2:-0}" -gt "${w1:-0}" ] || why+=" timestamp_did_not_advance"
[ "$pings" -ge 4 ] || why+=" only_${pings}_pings_seen"
journalctl --since "@$since" --no-pager -o cat | grep -i 'watchdog timeout' && why+=" watchdog_timeout"
result "$(verdict "$why")" watchdog-tight "WatchdogUSec=2s" "run_s=10" "monitord=$main" "distinct_pings_seen=$pings" "NRestarts=$(prop NRestarts)" ${why:+"why=${why// /,}"}
systemctl stop "$UNIT"
fi

# --- verify: the packaged units parse cleanly on this systemd -------------------------
# `systemd-analyze verify` of each packaged template (as instance 0, as the
# build machine's test does for contrib/systemd), and the whole boot's journal:
# no "Unknown key"/"Unknown lvalue"/"Unknown section" (a setting this systemd
# does not know is ignored with only that line) and no other diagnostic. The
# alsaloop unit is loaded once here so that its parse warnings, if any, reach
# the journal too. A control copy with an invented setting must be caught, or
# the check proves nothing on this systemd.
why=""
systemctl show -p Id monitord-alsaloop@0.service >/dev/null 2>&1
mkdir -p /tmp/verify
verified=0
for unit in /lib/systemd/system/monitord-*@.service; do
    [ -f "$unit" ] || continue
    name=$(basename "$unit"); copy=/tmp/verify/${name/@./@0.}
    cp "$unit" "$copy"
    out=$(systemd-analyze verify --man=no "$copy" 2>&1); rc=$?
    printf '%s\n' "$out" | grep . | sed "s/^/  verify $name: /"
    [ "$rc" = 0 ] || why+=" verify_rc_${name}=$rc"
    [ -z "$out" ] || why+=" verify_output_${name}"
    verified=$((verified + 1))
done
[ "$verified" = 2 ] || why+=" ${verified}_units_verified"
{ cat /lib/systemd/system/monitord-squeezelite@.service; printf '[Service]\nProtectBogusSetting=yes\n'; } >/tmp/verify/control@0.service
control=$(systemd-analyze verify --man=no /tmp/verify/control@0.service 2>&1)
printf '%s\n' "$control" | grep -q "Unknown .*ProtectBogusSetting" || why+=" control_not_caught"
unknown=$(journalctl -b -o cat --no-pager | grep -E 'Unknown (key|lvalue|section)' | grep 'monitord-' || true)
printf '%s\n' "$unknown" | grep . | sed 's/^/  journal: /'
[ -z "$unknown" ] || why+=" unknown_settings_in_journal"
result "$(verdict "$why")" verify "systemd=$(systemctl --version | awk 'NR==1 { print $2 }')" "units=$verified" "journal_unknown=$(printf '%s' "$unknown" | grep -c .)" "control=$(printf '%s\n' "$control" | grep -c 'Unknown')" ${why:+"why=${why// /,}"}

# --- package lifecycle: upgrade, remove, purge -------------------------------------------
# After each step: what is running, installed and left in /etc.
leftovers() { # what the package could leave: files, enable symlinks, processes
    local out=""
    [ -e /usr/bin/monitord ] && out+=" /usr/bin/monitord"
    [ -e /lib/systemd/system/monitord-squeezelite@.service ] && out+=" unit"
    [ -d /etc/monitord ] && out+=" /etc/monitord/{$(ls /etc/monitord | tr '\n' ',' | sed 's/,$//')}"
    local links; links=$(find /etc/systemd/system -name 'monitord-*@*.service' -type l 2>/dev/null | wc -l)
    ((links > 0)) && out+=" ${links}_enable_links"
    pgrep -x monitord >/dev/null && out+=" monitord_running"
    pgrep -x squeezelite >/dev/null && out+=" squeezelite_running"
    echo "${out# }"
}
# Upgrade: two enabled, running instances are restarted on the new binary.
# Left out, the two instances are enabled and started all the same, for
# remove and purge; and the operator's env file is written if mac did not.
[ -f /etc/monitord/squeezelite-1.env ] || printf 'SQUEEZELITE_MAC=02:00:00:00:01:01\n' >/etc/monitord/squeezelite-1.env
if ! wanted upgrade; then
    systemctl enable --now "$UNIT" "$UNIT1" >/dev/null 2>&1
    wait_for 30 bash -c "[ -n \"\$(pgrep -P \$(systemctl show -p MainPID --value $UNIT1) -x squeezelite)\" ]"
else
why=""
systemctl enable --now "$UNIT" "$UNIT1" >/dev/null 2>&1 || why+=" enable_failed"
wait_for 30 bash -c "[ -n \"\$(pgrep -P \$(systemctl show -p MainPID --value $UNIT1) -x squeezelite)\" ]"
old0=$(prop MainPID); old1=$(systemctl show -p MainPID --value "$UNIT1")
if [ -z "$deb2" ]; then
    why+=" no_second_revision_in_/rig"
elif ! apt-get install -y -q --no-install-recommends "$deb2" >/tmp/upgrade.log 2>&1; then
    why+=" apt-get_upgrade_failed"; sed 's/^/  apt-get: /' /tmp/upgrade.log
fi
installed=$(dpkg-query -W -f='${Version}' monitord 2>/dev/null)
new0=$(prop MainPID); new1=$(systemctl show -p MainPID --value "$UNIT1")
[[ "$installed" == *-2 ]] || why+=" version=$installed"
[ "$new0" != "$old0" ] && [ "$new0" -gt 0 ] || why+=" instance0_not_restarted"
[ "$new1" != "$old1" ] && [ "$new1" -gt 0 ] || why+=" instance1_not_restarted"
[ "$(systemctl is-active "$UNIT" "$UNIT1" | sort -u)" = active ] || why+=" not_active_after_upgrade"
# The running monitord is the new file, not the deleted old one.
exe=$(readlink "/proc/$new0/exe")
[ "$exe" = /usr/bin/monitord ] || why+=" exe=${exe// /_}"
[ "$(prop NeedDaemonReload)" = no ] || why+=" NeedDaemonReload=$(prop NeedDaemonReload)"
left=$(leftovers)
result "$(verdict "$why")" upgrade "from=$(basename "$deb")" "to=$(basename "${deb2:-none}")" "version=$installed" "instance0=$old0->$new0" "instance1=$old1->$new1" "exe=$exe" "state=\"$left\"" ${why:+"why=${why// /,}"}
fi

# Remove: the instances are stopped, the units forgotten; the conffile and
# the enable symlinks stay until purge.
why=""
apt-get remove -y -q monitord >/tmp/remove.log 2>&1 || { why+=" apt-get_remove_failed"; sed 's/^/  apt-get: /' /tmp/remove.log; }
status=$(dpkg-query -W -f='${Status}' monitord 2>/dev/null | tr ' ' '_')
[ "$status" = deinstall_ok_config-files ] || why+=" status=$status"
pgrep -x monitord >/dev/null && why+=" monitord_still_runs"
pgrep -x squeezelite >/dev/null && why+=" squeezelite_still_runs"
[ -e /usr/bin/monitord ] && why+=" binary_left"
load=$(prop LoadState)
[ "$load" = not-found ] || why+=" LoadState=$load"
[ -f /etc/monitord/squeezelite.env.example ] || why+=" conffile_gone_before_purge"
left=$(leftovers)
result "$(verdict "$why")" remove "status=$status" "LoadState=$load" "left=\"$left\"" ${why:+"why=${why// /,}"}

# Purge: the enable symlinks and the conffile go; the operator's own env
# file (squeezelite-1.env, written above) is kept, and with it /etc/monitord.
why=""
apt-get purge -y -q monitord >/tmp/purge.log 2>&1 || { why+=" apt-get_purge_failed"; sed 's/^/  apt-get: /' /tmp/purge.log; }
status=$(dpkg-query -W -f='${Status}' monitord 2>/dev/null | tr ' ' '_')
[ -z "$status" ] || [ "$status" = unknown_ok_not-installed ] || why+=" status=$status"
links=$(find /etc/systemd/system -name 'monitord-*@*.service' -type l | wc -l)
[ "$links" = 0 ] || why+=" ${links}_enable_links_left"
[ -e /etc/monitord/squeezelite.env.example ] && why+=" conffile_left"
[ -f /etc/monitord/squeezelite-1.env ] || why+=" operator_env_file_removed"
left=$(leftovers)
result "$(verdict "$why")" purge "status=${status:-not-installed}" "left=\"$left\"" ${why:+"why=${why// /,}"}

emit done "uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
systemctl poweroff -ff

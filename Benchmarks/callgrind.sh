#!/usr/bin/env bash
# Instructions (callgrind Ir, user space) per transition and per crash cycle,
# for monitord builds side by side. Counts are exact and do
# not depend on the machine's load.
#
#   Benchmarks/callgrind.sh [NAME=MONITORD ...]
#       (default: embedded=dist/monitord full=.build-bench/monitord-full)
#
# 1. Whole daemon: callgrind on `MONITORD --backoff-initial 1ms --backoff-max
#    1ms -- benchchild` where benchchild (Benchmarks/compare/benchchild.c,
#    mode failn) fails until it has been started N times, then exits 0, which
#    ends the supervision. Per crash cycle = (Ir(N=LO+STEP) - Ir(N=LO)) /
#    STEP: the cycles in the difference are steady-state ones (backoff at its
#    cap, identical exits folded into one line every 10th). monitord logs as
#    it does by default (stderr, to a file here); a second pass with -q shows
#    what the log lines cost. Startup = Ir(N=1), the whole run of one start.
# 1b. Every supervisor alike, monitord's builds and the peers (s6-supervise,
#    daemontools' supervise, runsv): 1 s restart delay, SIGTERM after A resp.
#    B starts (below). NO_PEERS=1 skips this part.
# 2. The pure Supervision table: Benchmarks/callgrind/table-driver.swift and
#    MicroScenarios' Transitions.swift with the Supervision module, compiled
#    four ways: Embedded -Osize, Embedded -O (scripts/build-release's flags for
#    this module), full toolchain -O (what `swift build -c release` uses) and
#    full -Osize. Per operation =
#    (Ir(N) - Ir(1)) / (N - 1). Also the loop's CPU time per operation
#    (fastest of 7 runs of TIME_N): callgrind counts each byte of a `rep
#    movsb` as an instruction; a CPU runs it as one fast microcoded copy.
# TABLE_ONLY=1 skips parts 1 and 1b. Prints markdown tables. Needs valgrind,
# gcc, swiftc with Embedded Swift; s6, daemontools, runit for 1b.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
root=$PWD
LO=${LO:-11} STEP=${STEP:-100} TABLE_N=${TABLE_N:-20001} TIME_N=${TIME_N:-2000000}
work=$root/.build-bench/callgrind
mkdir -p "$work"
command -v valgrind >/dev/null || { echo "callgrind.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }

bins=("$@")
((${#bins[@]})) || bins=(embedded=dist/monitord full=.build-bench/monitord-full)

gcc -O2 -o "$work/benchchild" Benchmarks/compare/benchchild.c

ir() { # ir OUTFILE CMD... -> prints the Ir total
    local out=$1; shift
    valgrind --tool=callgrind --callgrind-out-file="$out" --log-file="$out.log" "$@" >/dev/null 2>>"$work/daemon.log" || true
    sed -n 's/^==[0-9]*== Collected : //p' "$out.log"
}
daemon_ir() { # daemon_ir BIN N [monitord options]
    local bin=$1 n=$2; shift 2
    rm -f "$work/count"
    BENCHCHILD_MODE=failn BENCHCHILD_FILE=$work/count BENCHCHILD_COUNT=$n \
        ir "$work/daemon.out" "$bin" "$@" --backoff-initial 1ms --backoff-max 1ms -- "$work/benchchild"
    [[ $(stat -c %s "$work/count") == "$n" ]] || { echo "callgrind.sh: $bin: expected $n starts, got $(stat -c %s "$work/count")" >&2; exit 1; }
}
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

echo "| build | binary (bytes) | daemon: one start to exit (Ir) | daemon: per crash cycle (Ir) | per crash cycle, -q (Ir) |"
echo "|---|---:|---:|---:|---:|"
for spec in "${bins[@]}"; do
    [[ ${TABLE_ONLY:-} ]] && break
    name=${spec%%=*} bin=$(readlink -f "${spec#*=}")
    one=() cyc=() cycq=()
    for rep in 1 2 3; do
        a=$(daemon_ir "$bin" 1); one+=("$a")
        lo=$(daemon_ir "$bin" "$LO"); hi=$(daemon_ir "$bin" $((LO + STEP)))
        cyc+=($(( (hi - lo) / STEP )))
        lo=$(daemon_ir "$bin" "$LO" -q); hi=$(daemon_ir "$bin" $((LO + STEP)) -q)
        cycq+=($(( (hi - lo) / STEP )))
    done
    echo "| $name | $(stat -c %s "$bin") | $(median3 "${one[@]}") | $(median3 "${cyc[@]}") | $(median3 "${cycq[@]}") |"
    echo "callgrind.sh: $name: start ${one[*]}; cycle ${cyc[*]}; cycle -q ${cycq[*]}" >&2
done

# --- every supervisor alike: 1 s restart delay, stopped by SIGTERM ---------
# Each supervisor (monitord with --backoff-initial 1s --backoff-max 1s, as
# Benchmarks/compare does) runs under callgrind until the child has started
# A, resp. B times, then gets SIGTERM half-way through the next 1 s wait;
# per crash cycle = (Ir(B) - Ir(A)) / (B - A). Start-up and shutdown are the
# same in both runs and cancel out. Only the supervisor process counts: what
# a child runs between fork and exec (valgrind turns monitord's vfork-style
# clone into a fork too) is the child's.
PEER_A=${PEER_A:-3} PEER_B=${PEER_B:-13}
peer_ir() { # peer_ir NAME N argv...
    local name=$1 n=$2; shift 2
    local d=$work/peer-$name-$n
    rm -rf "$d"; mkdir -p "$d/service"; ln -s "$work/benchchild" "$d/service/run"
    (cd "$d" && BENCHCHILD_MODE=fail BENCHCHILD_FILE=$d/count exec valgrind --tool=callgrind \
        --callgrind-out-file="$d/cg.out" --log-file="$d/cg.log" "$@" >"$d/out.log" 2>&1) &
    local pid=$! i
    for ((i = 0; i < 600; i++)); do
        [[ -f $d/count && $(stat -c %s "$d/count") -ge $n ]] && break
        sleep 0.05
    done
    sleep 0.5
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [[ $(stat -c %s "$d/count") == "$n" ]] || { echo "callgrind.sh: $name: $(stat -c %s "$d/count") starts, expected $n" >&2; }
    # The supervisor's own count: a forked child writes its own lines (its
    # work between fork and exec, not counted for any supervisor).
    sed -n "s/^==$pid== Collected : //p" "$d/cg.log"
}
if [[ -z ${TABLE_ONLY:-} && -z ${NO_PEERS:-} ]]; then
    peers=()
    for spec in "${bins[@]}"; do
        peers+=("monitord ${spec%%=*}|$(readlink -f "${spec#*=}") --backoff-initial 1s --backoff-max 1s -- $work/benchchild")
    done
    command -v s6-supervise >/dev/null && peers+=("s6-supervise|$(command -v s6-supervise) service")
    command -v supervise >/dev/null && peers+=("daemontools supervise|$(command -v supervise) service")
    command -v runsv >/dev/null && peers+=("runsv|$(command -v runsv) service")
    echo
    echo "| supervisor (1 s restart delay) | per crash cycle (Ir) | runs ($PEER_A and $PEER_B starts) |"
    echo "|---|---:|---|"
    for p in "${peers[@]}"; do
        label=${p%%|*} argv=${p#*|}
        # shellcheck disable=SC2086 # argv is words on purpose
        a=$(peer_ir "${label// /_}" "$PEER_A" $argv); b=$(peer_ir "${label// /_}" "$PEER_B" $argv)
        echo "| $label | $(( (b - a) / (PEER_B - PEER_A) )) | $a, $b |"
    done
fi

# --- the pure table, four compilations -------------------------------------
swiftc=${SWIFTC:-$(command -v swiftc)}
embedded_lib=$(cd "$(dirname "$(readlink -f "$swiftc")")/../lib/swift/embedded" && pwd)
build_table() { # build_table NAME OPT embedded|full
    local name=$1 opt=$2 kind=$3 d=$work/table-$1
    rm -rf "$d"; mkdir -p "$d/modules"
    local flags=(-wmo "$opt" -swift-version 6 -module-cache-path "$d/mc" -I "$d/modules" -I Sources/CLibc)
    if [[ $kind == embedded ]]; then
        flags=(-target x86_64-unknown-linux-gnu -enable-experimental-feature Embedded
            -enable-experimental-feature Extern -Xfrontend -function-sections "${flags[@]}")
    fi
    "$swiftc" "${flags[@]}" -parse-as-library -module-name Supervision -emit-module \
        -emit-module-path "$d/modules/Supervision.swiftmodule" -c -o "$d/Supervision.o" \
        $(find Sources/Supervision -name '*.swift' | LC_ALL=C sort)
    # The driver's top-level code must be in main.swift when a second file joins it.
    cp Benchmarks/callgrind/table-driver.swift "$d/main.swift"
    "$swiftc" "${flags[@]}" -module-name main -c -o "$d/main.o" "$d/main.swift" Benchmarks/Sources/MicroScenarios/Transitions.swift
    if [[ $kind == embedded ]]; then
        gcc -fuse-ld=lld -B"$(dirname "$(readlink -f "$swiftc")")" -o "$d/table-driver" "$d/main.o" "$d/Supervision.o" \
            "$embedded_lib/x86_64-unknown-linux-gnu/libswiftUnicodeDataTables.a" -lm -Wl,--gc-sections
    else
        "$swiftc" -o "$d/table-driver" "$d/main.o" "$d/Supervision.o"
    fi
    echo "$d/table-driver"
}
table_ir() { # table_ir DRIVER SCENARIO N
    TABLE_SCENARIO=$2 TABLE_COUNT=$3 ir "$work/table.out" "$1"
}
echo
echo "| Supervision table built as | per transition: forward a signal (Ir) | per crash cycle: 3 transitions (Ir) | per crash-cycle transition (Ir) | CPU per transition, forward (ns) | CPU per crash cycle (ns) |"
echo "|---|---:|---:|---:|---:|---:|"
for variant in "embedded -Osize":embedded:-Osize "embedded -O (release)":embedded:-O \
               "full -O (swift build -c release)":full:-O "full -Osize":full:-Osize; do
    IFS=: read -r label kind opt <<<"$variant"
    drv=$(build_table "${kind}${opt}" "$opt" "$kind")
    t1=$(table_ir "$drv" transition 1); tn=$(table_ir "$drv" transition "$TABLE_N")
    c1=$(table_ir "$drv" crash-cycle 1); cn=$(table_ir "$drv" crash-cycle "$TABLE_N")
    per_t=$(( (tn - t1) / (TABLE_N - 1) )) per_c=$(( (cn - c1) / (TABLE_N - 1) ))
    # CPU time, not instructions: the fastest of 7 runs of TIME_N operations
    tt=$(for i in 1 2 3 4 5 6 7; do TABLE_TIME=1 TABLE_SCENARIO=transition TABLE_COUNT=$TIME_N "$drv" | sed -n 's/^ps\/op //p'; done | sort -n | head -1)
    tc=$(for i in 1 2 3 4 5 6 7; do TABLE_TIME=1 TABLE_SCENARIO=crash-cycle TABLE_COUNT=$TIME_N "$drv" | sed -n 's/^ps\/op //p'; done | sort -n | head -1)
    echo "| $label | $per_t | $per_c | $((per_c / 3)) | $(awk "BEGIN{printf \"%.1f\", $tt/1000}") | $(awk "BEGIN{printf \"%.1f\", $tc/1000}") |"
done

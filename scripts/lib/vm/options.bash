# scripts/vm-test's options: what to boot (arch, guest, scenarios) and how.
# Sourced; vm_options "$@" sets the globals the other parts read, or exits
# (64 for a usage error; --list and --help print and exit 0).
usage() { echo "usage: scripts/vm-test [--arch x86_64|aarch64|armv7] [--systemd|--players] [--platform-only] [--scenario NAME[,NAME]]... [--list] [--asound rig|amplipi|amplipi-keys] [--timeout SEC] [--rounds N] [--probe-seconds SEC] [--smp N] [--rebuild] [--prepare-only]" >&2; exit 64; }
die() { echo "vm-test: $*" >&2; exit 1; }
say() { echo "vm-test: $*" >&2; }

vm_options() {
    arch=x86_64
    scenarios=()
    timeout_s=""
    rounds=5
    probe_seconds=60
    smp=2
    rebuild=0
    prepare_only=0
    systemd=0
    list=0
    players=0
    platform_only=0
    asound=""
    is_uint() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]; }
    while (($#)); do
        case "$1" in
            --arch) [ $# -ge 2 ] || usage; arch=$2; shift ;;
            --arch=*) arch=${1#*=} ;;
            --scenario) [ $# -ge 2 ] || usage; IFS=, read -ra s <<<"$2"; scenarios+=("${s[@]}"); shift ;;
            --scenario=*) IFS=, read -ra s <<<"${1#*=}"; scenarios+=("${s[@]}") ;;
            --timeout) [ $# -ge 2 ] && is_uint "$2" || usage; timeout_s=$2; shift ;;
            --rounds) [ $# -ge 2 ] && is_uint "$2" || usage; rounds=$2; shift ;;
            --probe-seconds) [ $# -ge 2 ] && is_uint "$2" || usage; probe_seconds=$2; shift ;;
            --smp) [ $# -ge 2 ] && is_uint "$2" || usage; smp=$2; shift ;;
            --asound) [ $# -ge 2 ] || usage; asound=$2; shift ;;
            --asound=*) asound=${1#*=} ;;
            --rebuild) rebuild=1 ;;
            --prepare-only) prepare_only=1 ;;
            --systemd) systemd=1 ;;
            --players) players=1 ;;
            --platform-only) platform_only=1 ;;
            --list) list=1 ;;
            -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
            *) usage ;;
        esac
        shift
    done
    [ -n "$asound" ] || { ((players)) && asound=amplipi || asound=rig; }
    case "$asound" in
        rig|amplipi|amplipi-keys) ;;
        *) echo "vm-test: unknown --asound '$asound' (rig, amplipi or amplipi-keys)" >&2; exit 64 ;;
    esac
    mode=rig
    if ((players)); then
        ((systemd == 0)) || { echo "vm-test: --players and --systemd are two different guests" >&2; exit 64; }
        mode=players
    fi
    if ((systemd)); then
        [ "$asound" = rig ] || { echo "vm-test: --systemd uses its own ALSA setup; --asound does not apply" >&2; exit 64; }
        ((${#scenarios[@]} == 0)) || { echo "vm-test: --systemd runs all its checks in order; --scenario does not apply" >&2; exit 64; }
        mode=systemd
    fi
    # The names come from the registries the guest runs (Tests/Guest/host.py);
    # prefixes select groups: --scenario reassign runs both re-assign scenarios.
    registry=(python3 Tests/Guest/host.py --mode "$mode" --arch "$arch")
    ((platform_only)) && registry+=(--platform-only)
    if ((list)); then
        "${registry[@]}" list
        exit 0
    fi
    names=$("${registry[@]}" names ${scenarios[@]+"${scenarios[@]/#/--scenario=}"}) || exit
    mapfile -t scenarios <<<"$names"

    amplipi_bundle=""
    if [[ " ${scenarios[*]} " == *" amplipi-check "* ]]; then
        amplipi_bundle=${VM_AMPLIPI_BUNDLE:-}
        [ -n "$amplipi_bundle" ] && [ -x "$amplipi_bundle/check/guest/run" ] \
            || die "amplipi-check needs the bundle contrib/amplipi/check-patch --guest $arch builds (VM_AMPLIPI_BUNDLE)"
    fi

    # armv7 under TCG runs its scenarios as fast as x86_64 (2.5-4 min here).
    [ -n "$timeout_s" ] || { [ "$arch" = aarch64 ] && timeout_s=2400 || timeout_s=900; }
    # The Debian release each guest boots, chosen here only: x86_64 the host's
    # own (bookworm); aarch64 trixie, the release 64-bit Raspberry Pi OS
    # follows (AmpliPi's RaspbianTrixie); armv7 bullseye, the oldest armhf
    # Debian still on the mirror (below).
    suite=bookworm
    case "$arch" in
        x86_64)
            debarch=amd64; qemu=qemu-system-x86_64; qemu_pkg=qemu-system-x86
            qemu_machine=(-accel tcg); console=ttyS0
            kernel_meta=linux-image-amd64
            monitord_bin=dist/monitord ;;
        aarch64)
            debarch=arm64; qemu=qemu-system-aarch64; qemu_pkg=qemu-system-arm
            qemu_machine=(-M virt -cpu cortex-a72 -accel tcg); console=ttyAMA0
            kernel_meta=linux-image-arm64
            suite=trixie
            monitord_bin=${MONITORD_AARCH64:-dist/monitord-aarch64} ;;
        armv7)
            # AmpliPi's CM3+ is a Cortex-A53 running 32-bit code; the virt
            # machine's 32-bit CPU with LPAE (for the -lpae kernel) is the A15.
            debarch=armhf; qemu=qemu-system-arm; qemu_pkg=qemu-system-arm
            qemu_machine=(-M virt -cpu cortex-a15 -accel tcg); console=ttyAMA0
            kernel_meta=linux-image-armmp-lpae
            suite=bullseye
            monitord_bin=${MONITORD_ARMV7:-dist/monitord-armv7} ;;
        *) echo "vm-test: unknown --arch '$arch' (x86_64, aarch64 or armv7)" >&2; exit 64 ;;
    esac
}

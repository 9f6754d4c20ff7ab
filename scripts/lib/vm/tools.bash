# The host's tools for scripts/vm-test: qemu, mmdebstrap, cpio, kmod (and
# qemu-user with binfmt_misc for a foreign root tree), installed when
# missing; the Debian mirror for a suite other than the host's; apt for a
# foreign suite without touching the host's. Sourced; vm_tools runs it.

# apt for a foreign suite and architecture (aarch64: trixie arm64; armv7:
# bullseye armhf) without touching the host's: a private sources list,
# lists, cache and an empty dpkg status under $cache/apt (like
# scripts/build-release's deb-src). No `dpkg --add-architecture`: a second
# libasound2-dev architecture would confuse scripts/build-release's
# dpkg-query.
private_apt() {
    local dir=$root_dir/$cache/apt
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    echo "deb [arch=$debarch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$dir/sources.list"
    : >"$dir/status"
    "$@" -o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "Dir::State::status=$dir/status" \
        -o "APT::Architecture=$debarch" -o "APT::Architectures::=$debarch" -o APT::Sandbox::User=root
}

vm_tools() {
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    apt_updated=0
    apt_update() { ((apt_updated)) || { $sudo apt-get update -qq >&2; apt_updated=1; }; }
    missing=()
    command -v "$qemu" >/dev/null || missing+=("$qemu_pkg")
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    command -v cpio >/dev/null || missing+=(cpio)
    command -v depmod >/dev/null || missing+=(kmod)
    if [ "$arch" = aarch64 ] && [ "$(uname -m)" != aarch64 ]; then
        [ -e /usr/bin/qemu-aarch64-static ] || missing+=(qemu-user-static)
        command -v update-binfmts >/dev/null || missing+=(binfmt-support)
        # mmdebstrap checks that the foreign architecture runs with arch-test.
        command -v arch-test >/dev/null || missing+=(arch-test)
    fi
    if [ "$arch" = armv7 ] && [[ "$(uname -m)" != arm* ]]; then
        [ -e /usr/bin/qemu-arm-static ] || missing+=(qemu-user-static)
        command -v update-binfmts >/dev/null || missing+=(binfmt-support)
        # mmdebstrap checks that the foreign architecture runs with arch-test.
        command -v arch-test >/dev/null || missing+=(arch-test)
    fi
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        apt_update
        DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi

    # mmdebstrap runs a foreign tree's maintainer scripts through qemu-user and
    # binfmt_misc; on a machine without systemd nobody mounted or enabled it.
    qemu_user=""
    case "$arch" in
        aarch64) [ "$(uname -m)" = aarch64 ] || qemu_user=qemu-aarch64 ;;
        armv7) [[ "$(uname -m)" == arm* ]] || qemu_user=qemu-arm ;;
    esac
    if [ -n "$qemu_user" ]; then
        [ -e /proc/sys/fs/binfmt_misc/register ] || $sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
            || die "cannot mount binfmt_misc"
        if [ "$(sed -n 1p "/proc/sys/fs/binfmt_misc/$qemu_user" 2>/dev/null)" != enabled ]; then
            $sudo update-binfmts --enable "$qemu_user" >/dev/null 2>&1 || die "update-binfmts --enable $qemu_user failed"
        fi
    fi

    # The Debian mirror for a suite other than the host's own: the host's, from
    # its apt configuration (the project names none).
    source "$root_dir/scripts/lib/debian-mirror.bash"
    mirror=""
    if [ "$suite" != bookworm ]; then mirror=$(debian_mirror) || exit 1; fi
}

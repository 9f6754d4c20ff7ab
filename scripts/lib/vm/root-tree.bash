# The guest's root tree for scripts/vm-test: mmdebstrap of the suite with
# the guest's packages and the kernel's modules, packed as a compressed cpio
# archive, cached in $cache/ARCHIVE.cpio with a stamp of what went in.
# Sourced; vm_root_tree builds it when missing or stale and sets archive.

vm_root_tree() {
    packages=alsa-utils,squeezelite,kmod,procps,python3-minimal,busybox-static
    variant=essential
    archive=base
    tree_hooks=()
    if ((systemd)); then
        # systemd as PID 1; udev gives /dev/snd to group audio; the packaged
        # units run as pi (User=pi, SupplementaryGroups=audio).
        packages=systemd-sysv,udev,kmod,alsa-utils,squeezelite,procps
        variant=minbase
        archive=systemd
        tree_hooks=(--customize-hook='chroot "$1" useradd --create-home --user-group --groups audio pi')
    fi
    # On armv7 the rig boots the players' archive too: it is the base one plus
    # python3 and shairport-sync, and a tree built under qemu-user costs minutes.
    if ((players)) || { [ "$arch" = armv7 ] && ((systemd == 0)); }; then
        # The players AmpliPi runs that Debian packages (gmediarender plays
        # through gstreamer's alsasink; plugins-good has wavparse for the test
        # file; vlc-plugin-base has the ALSA output). python3 (not -minimal)
        # for the scenarios' HTTP client. On x86_64 a separate archive, so the
        # rig's own scenarios keep booting the small one.
        packages=$packages,python3,shairport-sync
        [ "$arch" = armv7 ] || packages=$packages,gmediarender,gstreamer1.0-alsa,gstreamer1.0-plugins-good,vlc-bin,vlc-plugin-base
        archive=players
        if [ -n "$amplipi_bundle" ]; then
            # contrib/amplipi/check-patch --guest: what AmpliPi's Python needs
            # and only Debian has (PyYAML; gi for dasbus, AirPlay's MPRIS reader,
            # which bullseye lacks and the bundle brings; psutil, argon2, wrapt
            # and Jinja2 for its controller, Api), uuidgen (DLNA), a
            # D-Bus daemon and avahi-daemon (shairport-sync will not start
            # without mDNS), and on armv7 the players the small archive leaves
            # out. An archive of its own: the players guest's stays small.
            packages=$packages,python3-yaml,python3-gi,python3-psutil,python3-argon2,python3-wrapt,python3-jinja2,dbus,avahi-daemon,uuid-runtime
            [ "$arch" = armv7 ] && packages=$packages,gmediarender,gstreamer1.0-alsa,gstreamer1.0-plugins-good,vlc-bin,vlc-plugin-base
            archive=amplipi
        fi
    fi
    # The archive and the tree it unpacks to must both fit in the guest's 1 GiB
    # at boot: an uncompressed 340 MB archive does not ("Initramfs unpacking
    # failed: write error"). VM_COMPRESS=zstd (default) or gzip.
    compression=${VM_COMPRESS:-zstd}
    case "$compression" in
        zstd) compress() { zstd -q -3 -T0; } ;;
        gzip) compress() { gzip -1; } ;;
        *) echo "vm-test: VM_COMPRESS must be zstd or gzip" >&2; exit 64 ;;
    esac
    command -v zstd >/dev/null || { apt_update; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends zstd >&2; }
    stamp="$suite $variant $debarch $packages ${tree_hooks[*]} $kver $compression"
    [ "$archive" = base ] && stamp="$suite $debarch $packages $kver $compression"
    [ "$archive" = players ] || [ "$archive" = amplipi ] && stamp="$suite $debarch $packages $kver ${rig_modules[*]} $compression"
    if [ ! -s "$cache/$archive.cpio" ] || [ "$(cat "$cache/$archive.stamp" 2>/dev/null)" != "$stamp" ]; then
        t0=$(date +%s)
        rm -rf "$cache/root.tmp" "$cache/$archive.cpio" "$cache/$archive.stamp"
        say "building the root tree (mmdebstrap --variant=$variant, $suite $debarch)"
        # The guest needs no docs, man pages or translations.
        # The packages downloaded for one tree serve the next (base, systemd,
        # players: most are in all of them) through a cache beside the archives;
        # apt checks each cached file against the suite's index before using it.
        local_debs=$root_dir/$cache/debs
        mkdir -p "$local_debs"
        mmdebstrap --quiet --variant="$variant" --architectures="$debarch" --include="$packages" "${tree_hooks[@]}" \
            --skip=essential/unlink --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
            --setup-hook="sync-in $local_debs /var/cache/apt/archives/" \
            --customize-hook="sync-out /var/cache/apt/archives $local_debs" \
            --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
            "$suite" "$cache/root.tmp" ${mirror:+"$mirror"} >&2
        rm -rf "$cache"/root.tmp/var/cache/apt/* "$cache"/root.tmp/var/lib/apt/lists/*
        if [ -L "$cache/root.tmp/lib" ]; then
            cp -a "$cache"/kernel/modroot/. "$cache/root.tmp/"
        else
            # A tree without merged /usr: kmod looks in /lib/modules.
            mkdir -p "$cache/root.tmp/lib/modules"
            cp -a "$cache"/kernel/modroot/usr/lib/modules/. "$cache/root.tmp/lib/modules/"
        fi
        (cd "$cache/root.tmp" && find . -print0 | LC_ALL=C sort -z | cpio --quiet -o -0 -H newc -R 0:0) | compress >"$cache/$archive.cpio.tmp"
        # The next archive must start at a multiple of 4 bytes (zeros are skipped).
        truncate -s %4 "$cache/$archive.cpio.tmp"
        mv "$cache/$archive.cpio.tmp" "$cache/$archive.cpio"
        rm -rf "$cache/root.tmp"
        echo "$stamp" >"$cache/$archive.stamp"
        say "root archive $archive.cpio $(du -m "$cache/$archive.cpio" | cut -f1) MB ($(($(date +%s) - t0)) s)"
    fi
}

# What scripts/vm-test puts on top of the root archive: monitord (checked
# for the guest's architecture), go-librespot's stand-in (--players), the
# package's two revisions (--systemd), and the per-run overlay archive with
# Tests/Guest; the kernel unpacks concatenated archives in order. Sourced;
# vm_overlay leaves the guest's initrd in $overlay/initrd.cpio.

vm_overlay() {
    # --- monitord ------------------------------------------------------------------
    if [ "$arch" = x86_64 ]; then
        # build-release keeps a binary that is newer than every source.
        scripts/build-release >&2
    elif [ "$arch" = aarch64 ]; then
        [ -x "$monitord_bin" ] || die "$monitord_bin is missing (an aarch64 static build; MONITORD_AARCH64=PATH names another)"
    else
        [ -x "$monitord_bin" ] || die "$monitord_bin is missing (a static armv7 build, scripts/build-release --arch armv7; MONITORD_ARMV7=PATH names another)"
    fi
    file_out=$(file -b "$monitord_bin" 2>/dev/null || true)
    case "$arch:$file_out" in
        x86_64:*x86-64*|aarch64:*aarch64*|armv7:*"32-bit"*"ARM, EABI5"*|*:) ;;
        *) die "$monitord_bin is not an $arch executable: $file_out" ;;
    esac

    # --- go-librespot's stand-in (--players) ------------------------------------------
    standin=""
    if ((players)); then
        case "$arch" in
            x86_64) standin_cc=gcc ;;
            aarch64) standin_cc=aarch64-linux-gnu-gcc ;;
            armv7) standin_cc=arm-linux-gnueabihf-gcc ;;
        esac
        alsa_prefix=.build-release/alsa-lib/$arch
        [ -f "$alsa_prefix/lib/libasound.a" ] || die "$alsa_prefix/lib/libasound.a is missing: run scripts/build-release --arch $arch first"
        standin=$cache/go-librespot
        src=Tests/Guest/players/go-librespot.c
        if [ ! -x "$standin" ] || [ "$src" -nt "$standin" ] || [ "$alsa_prefix/lib/libasound.a" -nt "$standin" ]; then
            # Static, so one binary runs on bookworm and bullseye alike;
            # alsa-lib's NSS look-ups (getpwuid_r for ~) warn at link time.
            "$standin_cc" -static -Os -Wall -Wextra -Werror -I"$alsa_prefix/include" -o "$standin.tmp" "$src" \
                "$alsa_prefix/lib/libasound.a" -lm -lpthread 2>"$cache/go-librespot.log" \
                || { cat "$cache/go-librespot.log" >&2; die "building the go-librespot stand-in failed"; }
            mv "$standin.tmp" "$standin"
        fi
    fi

    # --- the package (--systemd) -------------------------------------------------------
    deb=""
    deb2=""
    if ((systemd)); then
        # The package as shipped (scripts/package: /usr/bin/monitord, the units
        # with ExecStart=/usr/bin/monitord); the binary was built above.
        # Revision 2 of the same binary is the upgrade the guest installs over it.
        scripts/package --arch "$arch" --no-build >&2
        deb=$(ls -t dist/monitord_*-1_"$debarch".deb 2>/dev/null | head -n 1)
        [ -n "$deb" ] || die "scripts/package wrote no dist/monitord_*-1_$debarch.deb"
        MONITORD_DEB_REVISION=2 scripts/package --arch "$arch" --no-build >&2
        deb2=${deb%-1_"$debarch".deb}-2_$debarch.deb
        [ -f "$deb2" ] || die "scripts/package wrote no $deb2"
        say "packages $deb, $deb2"
    fi

    # --- the per-run overlay --------------------------------------------------------
    overlay=$(mktemp -d)
    qemu_pid=""
    cleanup() {
        [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
        rm -rf "$overlay"
    }
    trap cleanup EXIT
    mkdir -p "$overlay/tree/rig" "$overlay/tree/etc"
    cp Tests/Guest/asound.conf "$overlay/tree/etc/asound.conf"
    if ((systemd)); then
        # /etc/modprobe.d, /etc/modules-load.d; the scenario unit, enabled.
        cp -r Tests/Guest/systemd/etc/. "$overlay/tree/etc/"
        mkdir -p "$overlay/tree/rig/systemd" "$overlay/tree/etc/systemd/system/multi-user.target.wants"
        install -m 0755 Tests/Guest/systemd/scenario.sh "$overlay/tree/rig/systemd/scenario.sh"
        cp Tests/Guest/systemd/rig-systemd.service "$overlay/tree/etc/systemd/system/"
        ln -s ../rig-systemd.service "$overlay/tree/etc/systemd/system/multi-user.target.wants/rig-systemd.service"
        cp "$deb" "$deb2" "$overlay/tree/rig/"
    else
        mkdir -p "$overlay/tree/usr/local/bin"
        find Tests/Guest -maxdepth 1 -type f -exec cp -t "$overlay/tree/rig/" {} +
        # AmpliPi's device layout: its asound.conf (and the per-key variant),
        # and snd-aloop's options where AmpliPi installs its own.
        cp -r Tests/Guest/amplipi "$overlay/tree/rig/amplipi"
        mkdir -p "$overlay/tree/etc/modprobe.d"
        cp Tests/Guest/amplipi/sound.conf "$overlay/tree/etc/modprobe.d/sound.conf"
        # The same process_monitor.py stand-in the benchmarks compare against.
        cp Benchmarks/compare/process_monitor.py "$overlay/tree/rig/"
        chmod 0755 "$overlay"/tree/rig/init "$overlay"/tree/rig/*.py
        cp "$monitord_bin" "$overlay/tree/usr/local/bin/monitord"
        if [ -n "$standin" ]; then
            # Where AmpliPi keeps its go-librespot (spotify_connect.py).
            mkdir -p "$overlay/tree/home/pi/amplipi-dev/streams"
            install -m 0755 "$standin" "$overlay/tree/home/pi/amplipi-dev/streams/go-librespot"
        fi
        if [ -n "$amplipi_bundle" ]; then
            cp -r "$amplipi_bundle" "$overlay/tree/rig/amplipi-check"
            chmod -R a+rX "$overlay/tree/rig/amplipi-check"
        fi
    fi
    (cd "$overlay/tree" && find . -print0 | LC_ALL=C sort -z | cpio --quiet -o -0 -H newc -R 0:0) >"$overlay/overlay.cpio"
    cat "$cache/$archive.cpio" "$overlay/overlay.cpio" >"$overlay/initrd.cpio"
}

# The guest's kernel for scripts/vm-test: Debian's own, from the package
# behind the suite's linux-image metapackage, and the rig's modules with
# what they depend on, cached in $cache/kernel/ (vmlinuz, modroot/, package).
# Sourced; vm_kernel builds what is missing and sets kpkg and kver.

vm_kernel() {
    # The modules the rig needs: snd-aloop and what it depends on (resolved from
    # the modules' own depends= fields, so nothing is listed by hand but the top);
    # dummy gives the player scenarios a network interface (libupnp refuses
    # loopback alone).
    rig_modules=(snd-aloop dummy)
    # A kernel cache extracted for another module list is extracted again.
    [ "$(cat "$cache/kernel/modules" 2>/dev/null)" = "${rig_modules[*]}" ] || rm -rf "$cache/kernel"
    if [ ! -s "$cache/kernel/vmlinuz" ]; then
        t0=$(date +%s)
        rm -rf "$cache/kernel" "$cache/kernel.tmp"
        mkdir -p "$cache/kernel.tmp/deb"
        # The host's own apt for the host's release and architecture; the
        # private one (tools.bash) for any other (aarch64 trixie, armv7 bullseye).
        if [ "$suite" = bookworm ] && [ "$arch" = x86_64 ]; then
            apt_update
            pkg=$(apt-cache depends "$kernel_meta" | awk '/Depends: linux-image-/ { sub(/:.*/, "", $2); print $2; exit }')
            [ -n "$pkg" ] || die "cannot resolve the package behind $kernel_meta with apt-cache"
            say "downloading $pkg"
            (cd "$cache/kernel.tmp" && apt-get download -q "$pkg" >/dev/null 2>&1) || die "apt-get download $pkg failed"
        else
            private_apt apt-get -q update >"$cache/apt.log" 2>&1 || die "apt-get update for $suite $debarch failed: see $cache/apt.log"
            pkg=$(private_apt apt-cache depends "$kernel_meta" | awk '/Depends: linux-image-/ { sub(/:.*/, "", $2); print $2; exit }')
            [ -n "$pkg" ] || die "cannot resolve the package behind $kernel_meta ($suite $debarch) with apt-cache"
            say "downloading $pkg ($suite $debarch from $mirror)"
            (cd "$cache/kernel.tmp" && private_apt apt-get -q download "$pkg" >>"$root_dir/$cache/apt.log" 2>&1) \
                || die "apt-get download $pkg failed: see $cache/apt.log"
        fi
        dpkg-deb -x "$cache"/kernel.tmp/*.deb "$cache/kernel.tmp/deb"
        # /lib/modules up to bookworm, /usr/lib/modules from trixie (merged
        # /usr); trixie's modules are xz-compressed (.ko.xz), which the host's
        # modinfo and depmod read and the guest's kmod loads as they are.
        moddir=""
        for d in "$cache"/kernel.tmp/deb/{usr/,}lib/modules/*/; do
            [ -d "$d" ] && { moddir=${d%/}; break; }
        done
        [ -n "$moddir" ] || die "no lib/modules in $pkg"
        kver=$(basename "$moddir")
        # name -> file for every module in the package
        declare -A modfile=()
        while IFS= read -r f; do
            n=$(basename "$f"); n=${n%%.ko*}; modfile[${n//_/-}]=$f
        done < <(find "$moddir" -name '*.ko*')
        want=("${rig_modules[@]}"); have=()
        while ((${#want[@]})); do
            m=${want[0]//_/-}; want=("${want[@]:1}")
            [[ " ${have[*]} " == *" $m "* ]] && continue
            f=${modfile[$m]:-}
            [ -n "$f" ] || die "module $m is not in $pkg"
            have+=("$m")
            deps=$(modinfo -F depends "$f")
            [ -n "$deps" ] && IFS=, read -ra d <<<"$deps" && want+=("${d[@]}")
        done
        out=$cache/kernel.tmp/modroot/usr/lib/modules/$kver
        mkdir -p "$out"
        cp "$moddir"/modules.order "$moddir"/modules.builtin* "$out"/ 2>/dev/null || true
        for m in "${have[@]}"; do
            rel=${modfile[$m]#"$moddir"/}
            mkdir -p "$out/$(dirname "$rel")"
            cp "${modfile[$m]}" "$out/$rel"
        done
        depmod -b "$cache/kernel.tmp/modroot/usr" "$kver"
        cp "$cache"/kernel.tmp/deb/boot/vmlinuz-* "$cache/kernel.tmp/vmlinuz"
        mkdir -p "$cache/kernel"
        mv "$cache/kernel.tmp/vmlinuz" "$cache/kernel/vmlinuz"
        mv "$cache/kernel.tmp/modroot" "$cache/kernel/modroot"
        echo "$pkg $kver ${have[*]}" >"$cache/kernel/package"
        echo "${rig_modules[*]}" >"$cache/kernel/modules"
        rm -rf "$cache/kernel.tmp"
        say "kernel $kver with modules ${have[*]} ($(($(date +%s) - t0)) s)"
    fi
    read -r kpkg kver _ <"$cache/kernel/package"
}

# The guest's run for scripts/vm-test: the kernel command line (the rig's
# init and scenarios, or systemd as PID 1), qemu under TCG with the serial
# console in $cache/serial.log, and the summary of the guest's RIG lines
# (Tests/Guest/host.py shows them as they arrive and judges them). Sourced;
# vm_boot runs the guest, vm_summary exits 1 when a scenario failed.

vm_boot() {
    serial=$cache/serial.log
    : >"$serial"
    scenario_arg=$(IFS=,; echo "${scenarios[*]}")
    # x86_64 under TCG on a loaded host: the kernel's IO-APIC timer check can
    # fail ("Kernel panic - not syncing: IO-APIC + timer doesn't work!", seen
    # with the host's 2 cores at load 7); no_timer_check skips it.
    kernel_extra=""
    [ "$arch" = x86_64 ] && kernel_extra=" no_timer_check"
    append="console=$console rdinit=/rig/init quiet loglevel=3 panic=-1$kernel_extra rig.scenarios=$scenario_arg rig.rounds=$rounds rig.probe_seconds=$probe_seconds rig.asound=$asound"
    [ -n "${AMPLIPI_SCENARIOS:-}" ] && append="$append rig.amplipi_scenarios=${AMPLIPI_SCENARIOS// /,}"
    if ((systemd)); then
        # systemd from the initramfs itself (no switch-root); no boot status or
        # login prompt on the console, which carries the RIG lines.
        append="console=$console rdinit=/sbin/init quiet loglevel=3 panic=-1$kernel_extra systemd.show_status=false systemd.unit=multi-user.target systemd.mask=serial-getty@$console.service"
        # Only some checks (--platform-only): scenario.sh leaves out the others.
        ((platform_only)) && append="$append rig.checks=${scenario_arg//systemd-/}"
    fi
    # The players' tree unpacks to 440 MB (the base one to 344 MB): with its
    # archive it does not fit in 1 GiB ("Initramfs unpacking failed").
    memory=1G
    [ "$archive" = players ] && memory=2G
    [ "$archive" = amplipi ] && memory=3G
    prep=$(($(date +%s) - started))
    say "booting $kpkg ($arch, TCG, $smp CPUs): ${scenarios[*]}"
    boot_started=$(date +%s)
    # The guest's RIG lines are shown as they arrive; it is ended at the timeout.
    # In the background, so that the exit trap (vm_overlay's cleanup) can end it.
    timed_out=0
    python3 Tests/Guest/host.py boot --serial "$serial" --timeout "$timeout_s" --output "$cache/qemu.out" -- \
        "$qemu" "${qemu_machine[@]}" -smp "$smp" -m "$memory" -nographic -no-reboot \
        -kernel "$cache/kernel/vmlinuz" -initrd "$overlay/initrd.cpio" -append "$append" \
        -serial "file:$serial" -monitor none -nic none &
    qemu_pid=$!
    wait "$qemu_pid" || timed_out=$?
    qemu_pid=""
    ((timed_out == 0 || timed_out == 124)) || die "running the guest failed ($timed_out)"
    guest_s=$(($(date +%s) - boot_started))
}

vm_summary() {
    local timed_out_arg=()
    ((timed_out == 0)) || timed_out_arg=(--timed-out)
    python3 Tests/Guest/host.py summary --serial "$serial" --timeout "$timeout_s" "${timed_out_arg[@]}" \
        --title "$arch, $kpkg, guest $guest_s s, preparation $prep s" \
        --total "$(($(date +%s) - started))" --names "$scenario_arg"
}

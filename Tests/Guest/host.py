#!/usr/bin/env python3
"""The host's side of the guest rig (scripts/vm-test): which scenarios a run
asks the guest for, from the registries the guest itself runs (SCENARIOS in
scenarios.py, gate_quiet.py, players.py and amplipi_check.py; the systemd
guest's checks below, in the order Tests/Guest/systemd/scenario.sh runs
them), the guest's run, and what its result lines say.

    host.py names --mode rig|players|systemd --arch ARCH [--platform-only] [--scenario NAME]...
        the names to run, one a line (a name also selects every name that
        starts with it and a dash: reassign runs both re-assign scenarios);
        an unknown name is a usage error (exit 64)
    host.py list --mode ... --arch ARCH
        what --list prints
    host.py boot --serial FILE --timeout SEC --output FILE -- QEMU...
        runs the guest, shows its RIG lines as they arrive, ends it after
        SEC seconds (exit 124 then)
    host.py summary --serial FILE --title TEXT --timeout SEC [--timed-out]
                    --total SEC --names NAME,NAME...
        one line per requested scenario from its `RIG result NAME
        pass|fail|skip key=value...` line, the `RIG figure` lines, and exit 1
        when a scenario failed or reported nothing, or the guest stopped
        without `RIG done` (the serial console's last lines follow then)

--platform-only keeps the scenarios and checks whose outcome the platform
(32-bit armhf, kernel 5.10, systemd 247) can change; the x86_64 guests run
the rest (docs/testing.md says what covers each one left out).
"""
import argparse
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # nothing left in Tests/Guest
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import amplipi_check  # noqa: E402
import players  # noqa: E402
import scenarios  # noqa: E402

# Tests/Guest/systemd/scenario.sh's checks, in its order (each reports
# `RIG result systemd-NAME ...`).
SYSTEMD_CHECKS = ["install", "start", "status", "watchdog", "sigkill", "stop", "journal",
                  "long-wait", "mac", "watchdog-tight", "verify", "upgrade", "remove", "purge"]
# What systemd 247 and 32-bit ARM can change: the package's install and
# maintainer scripts, READY=1/STATUS=, the watchdog's period from
# WATCHDOG_USEC, the backoff's timer, the stop, the journal's priorities and
# the unit's directives (verify). Left to the x86_64 guest: the long wait and
# the tight watchdog (systemd's own timeouts, the same code on every
# architecture), the MAC helper (a shell script) and the upgrade (a second
# run of the same postinst).
SYSTEMD_PLATFORM_CHECKS = [c for c in SYSTEMD_CHECKS if c not in ("long-wait", "mac", "watchdog-tight", "upgrade")]


def registry(mode, arch, platform_only):
    """(the scenarios a run makes by default, those run only when named)"""
    if mode == "systemd":
        checks = SYSTEMD_PLATFORM_CHECKS if platform_only else SYSTEMD_CHECKS
        return [f"systemd-{c}" for c in checks], []
    if mode == "players":
        names = [n for n in players.SCENARIOS if n not in players.NAMED_ONLY]
        if arch == "armv7":
            names = [n for n in names if n in players.ARMV7_SCENARIOS]
        return names, list(amplipi_check.SCENARIOS) + players.NAMED_ONLY
    names = list(scenarios.DEFAULT_SCENARIOS)
    if platform_only:
        names = [n for n in names if n in scenarios.PLATFORM_SCENARIOS]
    optional = [n for n in scenarios.SCENARIOS if n not in scenarios.DEFAULT_SCENARIOS]
    return names, optional


def select(default, optional, wanted):
    if not wanted:
        return default
    chosen = []
    for want in wanted:
        matches = [n for n in default + optional if n == want or n.startswith(want + "-")]
        if not matches:
            print(f"vm-test: unknown scenario '{want}' (see --list)", file=sys.stderr)
            sys.exit(64)
        chosen += [n for n in matches if n not in chosen]
    return chosen


def rig_lines(serial):
    """The guest's RIG lines so far (the console ends lines with CR LF)."""
    with open(serial, "rb") as f:
        text = f.read().decode("utf-8", "replace").replace("\r", "")
    return [line for line in text.split("\n") if line.startswith("RIG ")]


def boot(args):
    began = time.monotonic()
    # Ended by scripts/vm-test's exit trap: end the guest first (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with open(args.output, "wb") as output:
        guest = subprocess.Popen(args.command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)
    shown = 0

    def show():
        nonlocal shown
        lines = rig_lines(args.serial)
        for line in lines[shown:]:
            print(f"  guest: {line}", file=sys.stderr, flush=True)
        shown = len(lines)

    timed_out = False
    try:
        while guest.poll() is None:
            if time.monotonic() - began > args.timeout:
                timed_out = True
                guest.terminate()
                break
            show()
            time.sleep(1)
        guest.wait()
    finally:
        if guest.poll() is None:
            guest.send_signal(signal.SIGKILL)
            guest.wait()
    show()
    return 124 if timed_out else 0


def summary(args):
    lines = rig_lines(args.serial)
    failed = False
    print()
    print(f"vm-test summary ({args.title}):")
    for name in args.names:
        results = [line for line in lines if line.startswith(f"RIG result {name} ")]
        if not results:
            print(f"  {name:<26} FAIL (no result from the guest)")
            failed = True
            continue
        words = results[-1].split(" ", 4)
        status, rest = words[3], (words[4] if len(words) > 4 else "")
        label = {"pass": "PASS", "skip": "SKIP"}.get(status, "FAIL")
        failed |= label == "FAIL"
        print(f"  {name:<26} {label}  {rest}")
    for line in lines:
        if line.startswith("RIG figure "):
            print("  figure: " + line[len("RIG figure "):])
    if args.timed_out:
        print(f"  the guest did not power off within {args.timeout} s (killed)")
        failed = True
    elif not any(line.startswith("RIG done") for line in lines):
        print("  the guest stopped without 'RIG done'")
        failed = True
    print(f"  total {args.total} s; serial log: {args.serial}")
    sys.stdout.flush()
    if failed:
        print("vm-test: FAILED; the last lines of the serial console:", file=sys.stderr)
        with open(args.serial, "rb") as f:
            tail = f.read().decode("utf-8", "replace").replace("\r", "").split("\n")
        print("\n".join(tail[-61:]), end="", file=sys.stderr)
        return 1
    print("vm-test: all scenarios passed")
    return 0


def main():
    parser = argparse.ArgumentParser(prog="host.py")
    parser.add_argument("command", choices=["names", "list", "boot", "summary"])
    parser.add_argument("--mode", choices=["rig", "players", "systemd"], default="rig")
    parser.add_argument("--arch", default="x86_64")
    parser.add_argument("--platform-only", action="store_true")
    parser.add_argument("--scenario", action="append", default=[])
    parser.add_argument("--serial")
    parser.add_argument("--output")
    parser.add_argument("--timeout", type=int)
    parser.add_argument("--timed-out", action="store_true")
    parser.add_argument("--title")
    parser.add_argument("--total")
    parser.add_argument("--names", default="")
    argv = sys.argv[1:]
    command = []
    if "--" in argv:
        argv, command = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    args = parser.parse_args(argv)
    if args.command == "boot":
        args.command = command
        sys.exit(boot(args))
    if args.command == "summary":
        args.names = [n for n in args.names.split(",") if n]
        sys.exit(summary(args))
    default, optional = registry(args.mode, args.arch, args.platform_only)
    if args.command == "list":
        for name in default:
            print(name)
        for name in optional:
            print(f"{name} (only when named)")
        return
    wanted = [n for value in args.scenario for n in value.split(",") if n]
    for name in select(default, optional, wanted):
        print(name)


if __name__ == "__main__":
    main()

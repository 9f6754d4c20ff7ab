#!/usr/bin/env python3
"""The host's side of the guest rig (scripts/vm-test): which scenarios a run
asks the guest for, from the registries the guest itself runs (SCENARIOS in
scenarios.py, gate_quiet.py, players.py and amplipi_check.py; the systemd
guest's checks below, in the order Tests/Guest/systemd/scenario.sh runs
them).

    host.py names --mode rig|players|systemd --arch ARCH [--platform-only] [--scenario NAME]...
        the names to run, one a line (a name also selects every name that
        starts with it and a dash: reassign runs both re-assign scenarios);
        an unknown name is a usage error (exit 64)
    host.py list --mode ... --arch ARCH
        what --list prints

--platform-only keeps the scenarios and checks whose outcome the platform
(32-bit armhf, kernel 5.10, systemd 247) can change; the x86_64 guests run
the rest (docs/testing.md says what covers each one left out).
"""
import argparse
import os
import sys

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
        names = list(players.SCENARIOS)
        if arch == "armv7":
            names = [n for n in names if n in players.ARMV7_SCENARIOS]
        return names, list(amplipi_check.SCENARIOS)
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


def main():
    parser = argparse.ArgumentParser(prog="host.py")
    parser.add_argument("command", choices=["names", "list"])
    parser.add_argument("--mode", choices=["rig", "players", "systemd"], default="rig")
    parser.add_argument("--arch", default="x86_64")
    parser.add_argument("--platform-only", action="store_true")
    parser.add_argument("--scenario", action="append", default=[])
    args = parser.parse_args()
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

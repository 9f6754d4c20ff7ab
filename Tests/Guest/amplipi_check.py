"""The amplipi-check scenario (scripts/vm-test --players --scenario
amplipi-check, run by contrib/amplipi/check-patch --guest ARCH): AmpliPi
with the contrib/amplipi series, its tests and every patched call site
driven through AmpliPi's own stream classes with the guest's real players
and devices. The host puts the bundle in /rig/amplipi-check; its
check/guest/run does the work and prints each step, which goes to the serial
console line by line (prefixed "amplipi-check: ", for check-patch to show).
"""
import os
import subprocess

from scenarios import Failure, PARAMS

BUNDLE = "/rig/amplipi-check"


def scenario_amplipi_check(p):
    run = f"{BUNDLE}/check/guest/run"
    if not os.path.exists(run):
        raise Failure("no /rig/amplipi-check bundle: run it through contrib/amplipi/check-patch --guest ARCH")
    wanted = [s for s in PARAMS.get("amplipi_scenarios", "").split(",") if s]
    proc = subprocess.Popen(["bash", run] + wanted, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    checks, failed = [], []
    for raw in proc.stdout:
        line = raw.decode(errors="replace").rstrip()
        print(f"amplipi-check: {line}", flush=True)
        if line.startswith("== ") and ": FAILED (exit" in line:
            failed.append(line[3:].split(":")[0])
        elif line.endswith(": ok") and line.startswith("["):
            checks.append(line.rsplit(" ", 2)[-2].rstrip(":"))
    rc = proc.wait()
    if rc != 0 or failed:
        raise Failure(f"check/guest/run exited {rc}; failed: {','.join(failed) or 'set-up or tests'}")
    return {"streams_passed": ",".join(checks) or "none", "scenarios": len(checks)}


SCENARIOS = {"amplipi-check": scenario_amplipi_check}

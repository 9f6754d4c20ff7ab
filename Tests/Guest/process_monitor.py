#!/usr/bin/env python3
"""AmpliPi's streams/process_monitor.py, for the guest rig (scripts/vm-test).

Written from its documented contract (shared DESIGN.md section 1), not
copied: run argv[1:]; when the child exits 0, exit 0; when it exits non-zero
or dies by a signal, start it again at once; forward every catchable signal
except SIGCHLD to the child; on SIGINT/SIGTERM/SIGQUIT forward and exit 0 at
once (without waiting for the child). Same shape as
Benchmarks/compare/process_monitor.py.
"""
import signal
import subprocess
import sys

command = sys.argv[1:]
child = None
print(f"process monitor: supervising {command}")  # block-buffered, as upstream


def forward(signum, _frame):
    if child is not None:
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass
    if signum in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
        sys.exit(0)


for signum in range(1, signal.NSIG):
    if signum == signal.SIGCHLD:
        continue
    try:
        signal.signal(signum, forward)
    except (OSError, ValueError, RuntimeError):
        pass  # SIGKILL, SIGSTOP and the ones Python reserves

while True:
    child = subprocess.Popen(command)
    child.wait()
    if child.returncode == 0:
        break
    print(f"child exited with {child.returncode}, restarting", flush=True)

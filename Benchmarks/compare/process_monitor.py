#!/usr/bin/env python3
"""Stand-in for AmpliPi's streams/process_monitor.py, for Benchmarks/compare
and the guest rig (scripts/vm-test copies it into the guest).

Re-created from its documented contract (shared DESIGN.md section 1), not
copied: run argv[1:]; exit 0 when the child exits 0; restart at once when it
exits non-zero or dies by a signal; forward every catchable signal except
SIGCHLD to the child; on SIGINT/SIGTERM/SIGQUIT forward and exit 0 at once.
It keeps the original's costs: a Popen per start, a blocking wait, a flushed
stdout line per restart, the first line block-buffered.
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
            pass  # the child was reaped meanwhile
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
    try:
        child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        break
    if child.returncode == 0:
        break
    print(f"child exited with {child.returncode}, restarting", flush=True)

#!/bin/sh
# Whole-process comparison of monitord with s6-supervise, runsv, daemontools'
# supervise and the Python original. Writes BENCHMARKS.md.
# Usage: Benchmarks/compare.sh [--quick] [--help for the options]
# Needs root for apt-get (only if s6, runit, daemontools or strace are missing)
# and for strace -p. Python 3 standard library only; no network.
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else py=python3; fi
exec "$py" "$here/compare/compare.py" "$@"

#!/usr/bin/env python3
"""Whole-process comparison: monitord beside s6-supervise, runsv, daemontools'
supervise and the Python original. Standard library only, no network.

Run it through Benchmarks/compare.sh (see --help). It measures each supervisor
process (never its child), one after another, and writes BENCHMARKS.md.
"""
import argparse
import ctypes
import datetime
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRATCH = os.path.join(REPO, ".build-bench")
PEER_PACKAGES = {"s6-supervise": "s6", "runsv": "runit", "supervise": "daemontools", "strace": "strace"}

# ----------------------------------------------------------------------------
# small helpers


def log(msg):
    print(f"[compare {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(argv, **kw):
    return subprocess.run(argv, check=False, **kw)


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def status_fields(pid):
    out = {}
    for line in read(f"/proc/{pid}/status").splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def kb(field):
    """'1234 kB' -> 1234"""
    return int(field.split()[0]) if field else 0


def tasks(pid):
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def ctx_switches(pid):
    """Voluntary, involuntary context switches summed over all threads."""
    vol = invol = 0
    for tid in tasks(pid):
        st = status_fields(f"{pid}/task/{tid}")
        vol += int(st.get("voluntary_ctxt_switches", 0))
        invol += int(st.get("nonvoluntary_ctxt_switches", 0))
    return vol, invol


def cpu_ns(pid):
    """On-CPU time (schedstat field 1, ns) summed over all threads."""
    total = 0
    for tid in tasks(pid):
        fields = read(f"/proc/{pid}/task/{tid}/schedstat").split()
        if fields:
            total += int(fields[0])
    return total


def pss_kb(pid):
    m = re.search(r"^Pss:\s+(\d+) kB", read(f"/proc/{pid}/smaps_rollup"), re.M)
    return int(m.group(1)) if m else None


def machine_busy_jiffies():
    f = read("/proc/stat").splitlines()[0].split()[1:]
    vals = [int(x) for x in f]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals) - idle, sum(vals)


def proc_children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        stat = read(f"/proc/{d}/stat")
        if not stat:
            continue
        # comm may contain spaces and parentheses: split after the last ')'
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) < 2:
            continue
        kids.setdefault(int(rest[1]), []).append(int(d))
    return kids


def descendants(pid):
    kids = proc_children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def reap_all():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def is_zombie(pid):
    stat = read(f"/proc/{pid}/stat")
    return not stat or stat[stat.rfind(")") + 2] in "ZX"


def kill_tree(root=None, keep=()):
    """SIGKILL `root` and everything below it, then everything still below
    this script, until nothing is left. This script is a child subreaper, so
    the orphans of a killed supervisor come back to it and are found on the
    next pass. Only ever called between measurements, when nothing else of
    this script's is meant to run."""
    me = os.getpid()
    if root is not None and root != me:
        for p in [root] + descendants(root):  # the supervisor first: no respawn
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for _ in range(200):
        alive = [p for p in descendants(me) if not is_zombie(p) and p not in keep]
        if not alive:
            break
        for p in alive:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
        reap_all()
    reap_all()


def set_subreaper():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_CHILD_SUBREAPER = 36
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            log("warning: PR_SET_CHILD_SUBREAPER failed; orphans may escape cleanup")
    except OSError:
        log("warning: no prctl; orphans may escape cleanup")


def wait_for(pred, timeout, step=0.001):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def fmt_num(v, unit="", digits=None):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if digits is None:
        if v == 0 or (abs(v) >= 100 and float(v).is_integer()):
            digits = 0
        elif abs(v) >= 100:
            digits = 0
        elif abs(v) >= 10:
            digits = 1
        else:
            digits = 2 if abs(v) >= 0.1 else 3
    s = f"{v:,.{digits}f}"
    return f"{s} {unit}".strip()


# ----------------------------------------------------------------------------
# setup: peers, helper binary, monitord


def ensure_peers():
    missing = sorted({pkg for exe, pkg in PEER_PACKAGES.items() if not shutil.which(exe)})
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"compare: missing {' '.join(missing)}; install them (apt-get install {' '.join(missing)})")
    log(f"installing {' '.join(missing)} from Debian")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
    r = run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env, stdout=subprocess.DEVNULL)
    if r.returncode != 0:
        sys.exit("compare: apt-get install failed")


def build_helper(outdir):
    os.makedirs(outdir, exist_ok=True)
    out = os.path.join(outdir, "benchchild")
    src = os.path.join(HERE, "benchchild.c")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        sys.exit("compare: no C compiler (cc) to build benchchild")
    r = run([cc, "-O2", "-o", out, src])
    if r.returncode != 0:
        sys.exit("compare: building benchchild failed")
    return out


def build_monitord(args):
    """Returns (path or None, description)."""
    if args.monitord:
        name, path = args.monitord[0]
        return path, f"given: {name}={os.path.relpath(path, REPO)}"
    if not shutil.which("swift"):
        return None, "swift not found"
    t0 = time.monotonic()
    script = os.path.join(REPO, "scripts", "build-release")
    if os.access(script, os.X_OK) and not args.no_build_script:
        log("building monitord with scripts/build-release")
        r = run([script], cwd=REPO, capture_output=True, text=True)
        if r.returncode == 0:
            # the script's last line that names an existing file is the binary
            for line in reversed((r.stdout + "\n" + r.stderr).splitlines()):
                for word in line.split():
                    p = word if os.path.isabs(word) else os.path.join(REPO, word)
                    if os.path.basename(p) == "monitord" and os.path.isfile(p) and os.access(p, os.X_OK):
                        kind = run(["file", "-b", p], capture_output=True, text=True).stdout.split(",")
                        kind = ", ".join(k.strip() for k in kind if "link" in k or "stripped" in k)
                        return p, f"`{os.path.relpath(p, REPO)}` from scripts/build-release, {kind or 'built'} ({time.monotonic() - t0:.0f} s)"
            log("scripts/build-release succeeded but named no monitord binary; falling back to swift build")
        else:
            log("scripts/build-release failed; falling back to swift build:\n" + r.stderr[-2000:])
    flavours = [
        ("static executable", ["--static-swift-stdlib", "-Xswiftc", "-static-executable"]),
        ("static Swift stdlib", ["--static-swift-stdlib"]),
        ("dynamic Swift stdlib", []),
    ]
    for name, extra in flavours:
        log(f"building monitord (release, {name}) in .build-bench")
        base = ["swift", "build", "-c", "release", "--product", "monitord", "--scratch-path", SCRATCH, *extra]
        r = run(base, cwd=REPO, capture_output=True, text=True)
        if r.returncode == 0:
            binpath = run(base + ["--show-bin-path"], cwd=REPO, capture_output=True, text=True).stdout.strip()
            exe = os.path.join(binpath, "monitord")
            if os.path.isfile(exe):
                return exe, f"swift build -c release, {name} ({time.monotonic() - t0:.0f} s)"
        tail = (r.stdout + r.stderr).strip().splitlines()[-15:]
        log(f"build ({name}) failed:\n  " + "\n  ".join(tail))
    return None, "does not build yet"


def build_gate_monitord(args, main_binary):
    """The gate phase loads the test plugin, an external alsa-lib plugin (.so),
    which a fully static monitord cannot load (see scripts/build-release). So
    it uses a release build with a static Swift stdlib and a shared libasound."""
    if args.monitord:
        return main_binary, "the given binary"
    base = ["swift", "build", "-c", "release", "--product", "monitord", "--scratch-path", SCRATCH,
            "--static-swift-stdlib"]
    log("building monitord for the gate phase (release, static Swift stdlib, shared libasound)")
    r = run(base, cwd=REPO, capture_output=True, text=True)
    if r.returncode != 0:
        return None, "does not build: " + (r.stdout + r.stderr).strip()[-300:]
    binpath = run(base + ["--show-bin-path"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    exe = os.path.join(binpath, "monitord")
    return (exe, "swift build -c release --static-swift-stdlib (shared libasound)") if os.path.isfile(exe) \
        else (None, "built, but no binary found")


def linkage(exe):
    """'static' or the shared libraries other than libc/ld.so, from ldd."""
    if not exe:
        return None
    r = run(["ldd", exe], capture_output=True, text=True)
    if r.returncode != 0 or "not a dynamic" in (r.stdout + r.stderr):
        return "static"
    libs = [ln.split()[0] for ln in r.stdout.splitlines() if "=>" in ln]
    libs = [lib.split(".so")[0] for lib in libs if not lib.startswith(("libc.so", "linux-vdso"))]
    return "glibc" + ("".join(f" + {lib}" for lib in libs) if libs else "")


def tool_version(pkg):
    r = run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "?"


# ----------------------------------------------------------------------------
# supervisors


class Supervisor:
    def __init__(self, key, label, argv_fn, svcdir=False, exe=None):
        self.key, self.label, self.argv_fn, self.svcdir, self.exe = key, label, argv_fn, svcdir, exe

    def argv(self, ctx, mode, svc):
        return self.argv_fn(ctx, mode, svc)


def make_supervisors(ctx):
    sups = []
    if ctx["monitord"]:
        # The first binary is "monitord", the reference of every ratio; more
        # given with --monitord NAME=PATH are measured the same way beside it.
        binaries = ctx.get("monitord_binaries") or [("monitord", ctx["monitord"])]
        for i, (name, path) in enumerate(binaries):
            def monitord_argv(c, mode, svc, path=path):
                extra = ["--backoff-initial", "1s", "--backoff-max", "1s"] if mode == "fail" else []
                return [path, *c["monitord_args"], *extra, "--", c["child"]]
            key = "monitord" if i == 0 else f"monitord-{name}"
            label = "monitord" if len(binaries) == 1 else f"monitord {name}"
            sup = Supervisor(key, label, monitord_argv)
            sup.exe = path
            sups.append(sup)
    sups.append(Supervisor("s6", "s6-supervise", lambda c, m, s: [shutil.which("s6-supervise"), s], True,
                           shutil.which("s6-supervise")))
    sups.append(Supervisor("runsv", "runsv", lambda c, m, s: [shutil.which("runsv"), s], True, shutil.which("runsv")))
    sups.append(Supervisor("supervise", "daemontools supervise", lambda c, m, s: [shutil.which("supervise"), s], True,
                           shutil.which("supervise")))
    sups.append(Supervisor("python", "process_monitor.py",
                           lambda c, m, s: [c["python"], os.path.join(HERE, "process_monitor.py"), c["child"]]))
    return sups


class Instance:
    """One running supervisor, started through `benchchild --launch`."""

    counter = 0

    def __init__(self, ctx, sup, mode):
        Instance.counter += 1
        n = Instance.counter
        self.dir = os.path.join(ctx["work"], f"{sup.key}-{mode}-{n}")
        os.makedirs(self.dir)
        self.t0file = os.path.join(self.dir, "t0")
        self.file = os.path.join(self.dir, "stamp" if mode == "stamp" else "count")
        svc = os.path.join(self.dir, "service")
        if sup.svcdir:
            os.makedirs(svc)
            # `run` IS the child (a symlink to benchchild): no shell in between,
            # the same program every other supervisor runs as COMMAND.
            os.symlink(ctx["child"], os.path.join(svc, "run"))
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "LISTEN_FDS")}
        env.update(BENCHCHILD_MODE=mode, BENCHCHILD_FILE=self.file, PATH="/usr/sbin:/usr/bin:/sbin:/bin")
        argv = [ctx["child"], "--launch", self.t0file, *sup.argv(ctx, mode, svc)]
        out = os.open(os.path.join(self.dir, "output.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        devnull = os.open(os.devnull, os.O_RDONLY)
        try:
            self.pid = os.posix_spawn(argv[0], argv, env, setsid=True, file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, out, 1),
                (os.POSIX_SPAWN_DUP2, out, 2),
            ])
        finally:
            os.close(out)
            os.close(devnull)
        ctx["live"].append(self.pid)

    def alive(self):
        return not is_zombie(self.pid)

    def stamp_ns(self):
        s = read(self.file).strip()
        return int(s) if s else None

    def t0_ns(self):
        s = read(self.t0file).strip()
        return int(s) if s else None

    def count(self):
        try:
            return os.path.getsize(self.file)
        except OSError:
            return 0

    def output_tail(self):
        return read(os.path.join(self.dir, "output.log"))[-600:]

    def stop(self, ctx):
        kill_tree(self.pid)
        if self.pid in ctx["live"]:
            ctx["live"].remove(self.pid)


# ----------------------------------------------------------------------------
# strace


STRACE_LINE = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\S+)\s*$")


class Strace:
    def __init__(self, ctx, pid, follow, outfile):
        self.outfile = outfile
        argv = ["strace", "-c", "-o", outfile, "-p", str(pid)]
        if follow:
            argv.insert(1, "-f")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        ctx["live"].append(self.proc.pid)
        self.ctx = ctx
        # attached once strace says so on stderr
        line = self.proc.stderr.readline()
        if "attached" not in line:
            log(f"strace: {line.strip()}")

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.pid in self.ctx["live"]:
            self.ctx["live"].remove(self.proc.pid)
        calls = {}
        for line in read(self.outfile).splitlines():
            m = STRACE_LINE.match(line)
            if m and m.group(2) != "total":
                calls[m.group(2)] = calls.get(m.group(2), 0) + int(m.group(1))
        return calls


# ----------------------------------------------------------------------------
# phases


def anon_breakdown(pid, top=6):
    """Anonymous kB per mapping (smaps), largest first: what RssAnon is made of."""
    out, name = {}, None
    for line in read(f"/proc/{pid}/smaps").splitlines():
        parts = line.split()
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
        elif parts and parts[0] == "Anonymous:" and int(parts[1]):
            out[name] = out.get(name, 0) + int(parts[1])
    return sorted(out.items(), key=lambda kv: -kv[1])[:top]


def startup_syscalls(ctx, sup):
    """One start under `strace -f`: the supervisor's own syscalls from its exec
    until the child's stamp (the child's are left out)."""
    d = os.path.join(ctx["work"], f"{sup.key}-startup-strace")
    os.makedirs(d)
    svc = os.path.join(d, "service")
    if sup.svcdir:
        os.makedirs(svc)
        os.symlink(ctx["child"], os.path.join(svc, "run"))
    stamp, trace = os.path.join(d, "stamp"), os.path.join(d, "trace")
    env = dict(os.environ, BENCHCHILD_MODE="stamp", BENCHCHILD_FILE=stamp)
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM"):
        env.pop(k, None)
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", trace, "--", *sup.argv(ctx, "stamp", svc)], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    ok = wait_for(lambda: os.path.exists(stamp), 15)
    time.sleep(0.2)
    kill_tree(p.pid)
    if not ok:
        return None
    first, counts = None, {}
    for line in read(trace).splitlines():
        m = re.match(r"^(\d+)\s+(\w+)\(", line)
        if not m:
            continue
        first = first or m.group(1)
        if m.group(1) == first:
            counts[m.group(2)] = counts.get(m.group(2), 0) + 1
            if m.group(2) in ("clone", "clone3", "fork", "vfork"):
                break  # the spawn: what follows in the parent is not on the path to the child's exec
    return counts


def phase_healthy(ctx, sup, args):
    res = {}
    startups = []
    inst = None
    for i in range(args.runs):
        inst = Instance(ctx, sup, "stamp")
        ok = wait_for(inst.stamp_ns, 15)
        if not ok or not inst.t0_ns():
            res["error"] = f"child never started: {inst.output_tail()!r}"
            inst.stop(ctx)
            return res
        startups.append((inst.stamp_ns() - inst.t0_ns()) / 1e6)
        if i < args.runs - 1:
            inst.stop(ctx)
    res["startup_ms"] = statistics.median(startups)
    res["startup_all"] = startups
    pid = inst.pid
    time.sleep(args.settle)  # let it finish whatever follows the spawn
    if not inst.alive():
        res["error"] = f"supervisor exited: {inst.output_tail()!r}"
        inst.stop(ctx)
        return res
    v0, i0 = ctx_switches(pid)
    c0 = cpu_ns(pid)
    time.sleep(args.healthy)
    v1, i1 = ctx_switches(pid)
    c1 = cpu_ns(pid)
    st = status_fields(pid)
    res.update(ctx_vol=v1 - v0, ctx_invol=i1 - i0, cpu_us=(c1 - c0) / 1e3,
               rss_anon=kb(st.get("RssAnon")), vm_rss=kb(st.get("VmRSS")),
               threads=int(st.get("Threads", 1)), pss=pss_kb(pid))
    tr = Strace(ctx, pid, True, os.path.join(inst.dir, "strace-healthy"))
    time.sleep(args.healthy)
    calls = tr.stop()
    res["syscalls"] = sum(calls.values())
    res["syscall_detail"] = calls
    res["child_alive"] = inst.alive()
    res["anon_breakdown"] = anon_breakdown(pid)
    inst.stop(ctx)
    res["startup_syscalls"] = startup_syscalls(ctx, sup)
    return res


def wait_next_restart(inst, timeout):
    c = inst.count()
    return wait_for(lambda: inst.count() > c, timeout, 0.002)


def median_of_rounds(rounds):
    """One crash result from several: the median of every number, the detail
    of the round whose syscalls per restart is that median."""
    if len(rounds) == 1:
        return rounds[0]
    ok = [r for r in rounds if "error" not in r]
    if not ok:
        return rounds[0]
    out = dict(ok[0])
    for k, v in ok[0].items():
        vals = [r.get(k) for r in ok]
        if isinstance(v, (int, float)) and all(isinstance(x, (int, float)) for x in vals):
            out[k] = statistics.median(vals)
    by_sc = sorted((r for r in ok if r.get("syscalls_per_restart") is not None),
                   key=lambda r: r["syscalls_per_restart"])
    if by_sc:
        out["syscall_detail"] = by_sc[len(by_sc) // 2]["syscall_detail"]
    out["rounds_cpu_per_restart_ms"] = [r.get("cpu_per_restart_ms") for r in ok]
    return out


def phase_crash(ctx, sup, args):
    res = {}
    inst = Instance(ctx, sup, "fail")
    pid = inst.pid
    throttled = sup.key != "python"
    if not wait_for(lambda: inst.count() >= 2, 15, 0.005):
        res["error"] = f"no restarts seen: {inst.output_tail()!r}"
        inst.stop(ctx)
        return res
    window = args.crash if throttled else args.python_crash
    # Throttled supervisors: both ends of every window sit in the quiet middle
    # of a 1 s wait (0.3 s after a child's exit), so a window holds whole cycles.
    def sync():
        if throttled:
            wait_next_restart(inst, 5)
            time.sleep(0.3)
    sync()
    n0, c0, t0 = inst.count(), cpu_ns(pid), time.monotonic()
    v0, i0 = ctx_switches(pid)
    b0, a0 = machine_busy_jiffies()
    time.sleep(window)
    sync()
    n1, c1, t1 = inst.count(), cpu_ns(pid), time.monotonic()
    v1, i1 = ctx_switches(pid)
    b1, a1 = machine_busy_jiffies()
    restarts = n1 - n0
    res.update(restarts=restarts, window_s=t1 - t0, cpu_ms=(c1 - c0) / 1e6,
               restarts_per_s=restarts / (t1 - t0), cpu_share=(c1 - c0) / 1e9 / (t1 - t0),
               machine_busy=(b1 - b0) / max(1, a1 - a0) * os.cpu_count(),
               wakeups_per_restart=((v1 - v0) / restarts) if restarts else None,
               ctx_per_restart=((v1 - v0 + i1 - i0) / restarts) if restarts else None,
               cpu_per_restart_ms=((c1 - c0) / 1e6 / restarts) if restarts else None)
    # syscalls: strace -c -p on the supervisor only (not its children), attached
    # right away: the previous sync left us in the quiet middle of a wait
    tr = Strace(ctx, pid, False, os.path.join(inst.dir, "strace-crash"))
    s0 = inst.count()
    time.sleep(window if throttled else min(window, args.python_strace))
    sync()
    s1 = inst.count()
    calls = tr.stop()
    sr = s1 - s0
    res["strace_restarts"] = sr
    res["syscalls_per_restart"] = (sum(calls.values()) / sr) if sr else None
    res["syscall_detail"] = {k: v / sr for k, v in calls.items()} if sr else {}
    inst.stop(ctx)
    return res


def phase_gate(ctx, args):
    """ALSA gate waiting on a busy device (monitord only), with the ALSA
    test rig: the `monitordtest` ioplug plugin maps `lb0c` to a fake device
    whose lock file `pcm-holder -o lb0c` keeps flock()ed, so every probe's
    snd_pcm_open fails with EBUSY. For comparison, the CPU of one `aplay`
    probe (what the upstream Python fix spawned per probe) on the same device."""
    if not ctx["monitord"]:
        return {"skipped": "monitord does not build yet"}
    m, desc = build_gate_monitord(args, ctx["monitord"])
    if not m:
        return {"skipped": f"monitord for the gate {desc}"}
    ctx["monitord_gate"] = m
    helptext = run([m, "--help"], capture_output=True, text=True)
    if "alsa-gate" not in (helptext.stdout + helptext.stderr) and not args.force_gate:
        return {"skipped": "monitord has no ALSA gate yet (`monitord --help` does not mention --alsa-gate)"}
    rig = build_alsa_rig(ctx)
    if isinstance(rig, str):
        return {"skipped": rig}
    plugin, holder_exe = rig
    d = os.path.join(ctx["work"], "gate")
    snd = os.path.join(d, "snd")
    os.makedirs(snd)
    os.makedirs(os.path.join(d, "home"))
    lockfile = os.path.join(snd, "pcmC0D0p")
    conf = os.path.join(d, "alsa.conf")
    with open(conf, "w") as f:
        # the format of Tests/ReactorTests/ALSATestRig.swift and plugin.c's header
        f.write(f'pcm_type.monitordtest {{ lib "{plugin}" }}\n'
                f'pcm.!lb0c {{ type monitordtest state "{d}/state" device_file "{lockfile}" }}\n')
    with open(os.path.join(d, "state"), "w") as f:
        f.write("ok\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")}
    env.update(ALSA_CONFIG_PATH=f"/usr/share/alsa/alsa.conf:{conf}", HOME=os.path.join(d, "home"))
    holder = subprocess.Popen([holder_exe, "-o", "lb0c"], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    ctx["live"].append(holder.pid)
    line = holder.stdout.readline()
    if "ready" not in line:
        kill_tree(holder.pid)
        return {"error": f"pcm-holder did not take the device: {line!r}"}
    res = {"pcm": "lb0c (monitordtest plugin, held by pcm-holder: EBUSY)", "binary": desc}

    # aplay, as the upstream fix ran it per probe
    aplay = shutil.which("aplay")
    if aplay:
        samples = []
        for _ in range(args.runs):
            pid = os.posix_spawn(aplay, [aplay, "-q", "-D", "lb0c", "-d", "1", "-f", "S16_LE", "-c", "2",
                                         "-r", "48000", "/dev/zero"], env,
                                 file_actions=[(os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
            _, status, ru = os.wait4(pid, 0)
            samples.append((ru.ru_utime + ru.ru_stime) * 1e3)
        res["aplay_cpu_ms"] = statistics.median(samples)

    interval = 2.0
    # A fixed interval, so that a window holds a known number of probes: since
    # the waits grow from --probe-retry, which is pinned to it here.
    ctx["fixed_interval"] = ["--probe-retry", f"{interval:g}s"] if "probe-retry" in helptext.stdout else []
    ctx["keep"] = (holder.pid,)
    try:
        # (a) the probe alone: stale-player search pushed out of reach
        a = gate_window(ctx, args, env, d, "probe", ["--stale-after", "1000000"], interval, with_strace=True)
        if "error" in a:
            return dict(res, error=a["error"])
        res.update(a)
        # (b) default stale-after: monitord scans /proc for a stale player after N, 2N, 4N, ...
        # failed probes (then every 32N): an early window like this one holds the first, densest searches
        if args.quick:
            return dict(res, default_cpu_per_probe_ms=None, default_wakeups_per_probe=None)
        b = gate_window(ctx, args, env, d, "default", [], interval, with_strace=False)
        if "error" in b:
            return dict(res, error=b["error"])
        res["default_cpu_per_probe_ms"] = b["cpu_per_probe_ms"]
        res["default_wakeups_per_probe"] = b["wakeups_per_probe"]
        res["spawned_while_busy"] = res["spawned_while_busy"] or b["spawned_while_busy"]
        return res
    finally:
        ctx["keep"] = ()
        kill_tree(holder.pid)


def gate_window(ctx, args, env, d, label, extra, interval, with_strace):
    """One monitord gating benchchild on the held lb0c: an optional strace
    window (exact probe count: one open of the lock file per probe) and a plain
    window for CPU and wakeups. Windows are whole multiples of 4 probes."""
    res = {}
    stamp = os.path.join(d, f"stamp-{label}")
    snd = os.path.join(d, "snd")
    argv = [ctx["monitord_gate"], *ctx["monitord_args"], "--alsa-device", "lb0c", "--snd-dir", snd,
            "--probe-interval", f"{interval:g}s", *ctx.get("fixed_interval", []), *extra, "--", ctx["child"]]
    genv = dict(env, BENCHCHILD_MODE="stamp", BENCHCHILD_FILE=stamp)
    out = open(os.path.join(d, f"output-{label}.log"), "w")
    p = subprocess.Popen(argv, env=genv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    ctx["live"].append(p.pid)
    window = max(1, round(args.gate / (4 * interval))) * 4 * interval
    if args.quick:
        window = 2 * interval
    try:
        # past the first failed probe (holder scan and warning), then to mid-interval
        time.sleep(interval * 1.5 + 0.5)
        if p.poll() is not None:
            return {"error": f"monitord exited {p.returncode}: {read(out.name)[-400:]!r}"}
        period = interval
        if with_strace:
            trace = os.path.join(d, f"strace-{label}")
            tr = subprocess.Popen(["strace", "-f", "-qq", "-o", trace, "-p", str(p.pid)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(window)
            tr.send_signal(signal.SIGINT)
            tr.wait(timeout=10)
            lines = [ln for ln in read(trace).splitlines() if re.match(r"^\d+\s+\w+\(", ln)]
            probes = sum(1 for ln in lines if "pcmC0D0p" in ln and "open" in ln)
            counts = {}
            for ln in lines:
                name = re.match(r"^\d+\s+(\w+)\(", ln).group(1)
                counts[name] = counts.get(name, 0) + 1
            res["strace_probes"] = probes
            res["syscalls_per_probe"] = (len(lines) / probes) if probes else None
            res["syscall_detail"] = {k: v / probes for k, v in counts.items()} if probes else {}
            res["forks"] = sum(v for k, v in counts.items() if k in ("clone", "clone3", "fork", "vfork", "execve"))
            if probes:
                period = window / probes
            time.sleep(0.2)
        c0, (v0, i0), t0 = cpu_ns(p.pid), ctx_switches(p.pid), time.monotonic()
        time.sleep(window)
        c1, (v1, i1), t1 = cpu_ns(p.pid), ctx_switches(p.pid), time.monotonic()
        n = (t1 - t0) / period
        res.update(probe_period_s=period, probes=n, cpu_per_probe_ms=(c1 - c0) / 1e6 / n,
                   wakeups_per_probe=(v1 - v0) / n, ctx_per_probe=(v1 - v0 + i1 - i0) / n,
                   spawned_while_busy=os.path.exists(stamp),
                   rss_anon=kb(status_fields(p.pid).get("RssAnon")))
        return res
    finally:
        kill_tree(p.pid, keep=ctx.get("keep", ()))
        out.close()


def build_alsa_rig(ctx):
    """Builds the ALSA test products (plugin, pcm-holder) in .build-bench.
    Returns (plugin path, holder path) or a reason string."""
    for product in ("MonitordTestPCM", "pcm-holder"):
        r = run(["swift", "build", "-c", "release", "--product", product, "--scratch-path", SCRATCH],
                cwd=REPO, capture_output=True, text=True)
        if r.returncode != 0:
            return f"the ALSA test rig ({product}) does not build: {(r.stdout + r.stderr).strip()[-300:]}"
    binpath = run(["swift", "build", "-c", "release", "--scratch-path", SCRATCH, "--show-bin-path"],
                  cwd=REPO, capture_output=True, text=True).stdout.strip()
    plugin = os.path.join(binpath, "libMonitordTestPCM.so")
    holder = os.path.join(binpath, "pcm-holder")
    if not (os.path.isfile(plugin) and os.access(holder, os.X_OK)):
        return "the ALSA test rig built but libMonitordTestPCM.so or pcm-holder is missing"
    return plugin, holder


# ----------------------------------------------------------------------------
# report


def ratio(m, p):
    if m is None or p is None:
        return ""
    if p == 0:
        return " (=)" if m == 0 else " (×∞)"
    return f" (×{m / p:.2f})"


def build_report(ctx, results, gate, args, started, elapsed):
    sups = ctx["supervisors"]
    keys = [s.key for s in sups]
    labels = {s.key: s.label for s in sups}
    have_m = "monitord" in keys
    many_m = sum(1 for k in keys if k.startswith("monitord")) > 1

    def row(title, getter, fmt, ratio_ok=True, python_ratio=True):
        cells = []
        mval = getter("monitord") if have_m else None
        for k in keys:
            v = getter(k)
            cell = fmt(v)
            if have_m and k != "monitord" and ratio_ok and (python_ratio or k != "python"):
                cell += ratio(mval, v)
            cells.append(cell)
        return f"| {title} | " + " | ".join(cells) + " |"

    def H(k, f):
        r = results.get(k, {}).get("healthy", {})
        return r.get(f)

    def C(k, f):
        r = results.get(k, {}).get("crash", {})
        return r.get(f)

    lines = []
    lines.append("| | " + " | ".join(labels[k] for k in keys) + " |")
    lines.append("|---|" + "---:|" * len(keys))
    lines.append(f"| **healthy child** (`sleep 1000`, {args.healthy:g} s windows) |" + " |" * len(keys))
    lines.append(row("context switches (vol + invol, all threads)",
                     lambda k: None if H(k, "ctx_vol") is None else H(k, "ctx_vol") + H(k, "ctx_invol"),
                     lambda v: fmt_num(v, digits=0)))
    lines.append(row("CPU time (µs)", lambda k: H(k, "cpu_us"), lambda v: fmt_num(v, digits=0)))
    lines.append(row("syscalls (strace -f)", lambda k: H(k, "syscalls"), lambda v: fmt_num(v, digits=0)))
    lines.append(row("RssAnon (kB)", lambda k: H(k, "rss_anon"), lambda v: fmt_num(v, digits=0)))
    lines.append(row("Pss (kB)", lambda k: H(k, "pss"), lambda v: fmt_num(v, digits=0)))
    lines.append(row("VmRSS (kB)", lambda k: H(k, "vm_rss"), lambda v: fmt_num(v, digits=0)))
    lines.append(row("threads", lambda k: H(k, "threads"), lambda v: fmt_num(v, digits=0), ratio_ok=False))
    exes = {s.key: s.exe for s in sups}
    lines.append(row("binary size (bytes, the executable as installed)",
                     lambda k: os.path.getsize(exes[k]) if exes.get(k) else None,
                     lambda v: fmt_num(v, digits=0)))
    lines.append(row("linked (ldd; libc not named)", lambda k: linkage(exes.get(k)), lambda v: v or "—", ratio_ok=False))
    lines.append(row(f"startup to child exec (ms, median of {args.runs})", lambda k: H(k, "startup_ms"),
                     lambda v: fmt_num(v, digits=2)))
    rounds = f", median of {args.rounds} rounds" if args.rounds > 1 else ""
    lines.append(f"| **crash loop** (child exits 1; {args.crash:g} s windows{rounds}, python {args.python_crash:g} s) |"
                 + " |" * len(keys))
    lines.append(row("restart delay", lambda k: "none" if k == "python" else "1 s",
                     lambda v: v, ratio_ok=False))
    lines.append(row("restarts in CPU window", lambda k: C(k, "restarts"), lambda v: fmt_num(v, digits=0),
                     ratio_ok=False))
    lines.append(row("restarts/s", lambda k: C(k, "restarts_per_s"), lambda v: fmt_num(v, digits=2),
                     ratio_ok=False))
    lines.append(row("supervisor CPU share (of one core)", lambda k: C(k, "cpu_share"),
                     lambda v: "—" if v is None else f"{v * 100:.2f} %", ratio_ok=False))
    lines.append(row("CPU per restart (ms)", lambda k: C(k, "cpu_per_restart_ms"),
                     lambda v: fmt_num(v, digits=3), python_ratio=False))
    lines.append(row("syscalls per restart (strace, no -f)", lambda k: C(k, "syscalls_per_restart"),
                     lambda v: fmt_num(v, digits=1), python_ratio=False))
    lines.append(row("wakeups per restart (voluntary cs)", lambda k: C(k, "wakeups_per_restart"),
                     lambda v: fmt_num(v, digits=1), python_ratio=False))
    table = "\n".join(lines)

    # gate
    if gate.get("skipped"):
        gate_md = f"ALSA gate on a busy device (monitord only): **not measured** — {gate['skipped']}."
    elif gate.get("error"):
        gate_md = f"ALSA gate on a busy device: **error** — {gate['error']}"
    else:
        aplay = gate.get("aplay_cpu_ms")
        gd = gate.get("syscall_detail") or {}
        gate_md = ("| ALSA gate, device held busy (monitord only; `--stale-after 1000000` unless said) | value |\n|---|---:|\n"
                   f"| PCM | {gate['pcm']} |\n"
                   f"| monitord build | {gate['binary']} |\n"
                   f"| probe period, measured (s) | {gate['probe_period_s']:.2f} |\n"
                   f"| CPU per probe (ms) | {gate['cpu_per_probe_ms']:.3f} |\n"
                   f"| CPU per probe with the default stale-player search, amortized over this early window (/proc scans after N, 2N, 4N, ... failed probes for the default `--stale-after` N, then every 32N) (ms) | {fmt_num(gate['default_cpu_per_probe_ms'], digits=3)} |\n"
                   f"| wakeups per probe (voluntary cs) | {gate['wakeups_per_probe']:.1f} |\n"
                   f"| context switches per probe (all) | {gate['ctx_per_probe']:.1f} |\n"
                   f"| syscalls per probe (strace -f) | {fmt_num(gate.get('syscalls_per_probe'), digits=1)} |\n"
                   f"| subprocesses during the strace window (clone/fork/exec) | {gate.get('forks')} |\n"
                   f"| RssAnon while waiting (kB) | {gate.get('rss_anon')} |\n"
                   f"| child spawned while busy | {'yes (wrong)' if gate['spawned_while_busy'] else 'no'} |\n"
                   + (f"| for comparison: CPU of one `aplay -d 1` probe on the same busy PCM (ms, median) | {aplay:.3f} |\n"
                      f"| monitord probe CPU ÷ aplay probe CPU | ×{gate['cpu_per_probe_ms'] / aplay:.3f} |\n"
                      if aplay else "")
                   + ("\nSyscalls per probe: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(gd.items(), key=lambda kv: -kv[1]))
                      if gd else ""))

    # targets
    tg = []
    if have_m and "monitord" in results:
        mh = results["monitord"].get("healthy", {})
        mc = results["monitord"].get("crash", {})
        dh = results.get("supervise", {}).get("crash", {})
        sh = results.get("s6", {}).get("healthy", {})

        def check(name, ok, detail):
            tg.append(f"| {name} | {'met' if ok else '**missed**'} | {detail} |")
        if "ctx_vol" in mh:
            cs = mh["ctx_vol"] + mh["ctx_invol"]
            check("healthy: 0 context switches, 0 syscalls", cs == 0 and mh.get("syscalls") == 0,
                  f"{cs} switches, {mh.get('syscalls')} syscalls")
        if mc.get("cpu_per_restart_ms") is not None and dh.get("cpu_per_restart_ms") is not None:
            check("crash: CPU per restart below supervise's", mc["cpu_per_restart_ms"] < dh["cpu_per_restart_ms"],
                  f"{mc['cpu_per_restart_ms']:.3f} vs {dh['cpu_per_restart_ms']:.3f} ms")
        if mc.get("syscalls_per_restart") is not None and dh.get("syscalls_per_restart") is not None:
            check("crash: syscalls per restart below supervise's",
                  mc["syscalls_per_restart"] < dh["syscalls_per_restart"],
                  f"{mc['syscalls_per_restart']:.1f} vs {dh['syscalls_per_restart']:.1f}")
        if mh.get("startup_ms") is not None and sh.get("startup_ms") is not None:
            check("startup to child exec ≤ s6-supervise's", mh["startup_ms"] <= sh["startup_ms"],
                  f"{mh['startup_ms']:.2f} vs {sh['startup_ms']:.2f} ms")
        if mh.get("rss_anon") is not None and sh.get("rss_anon") is not None:
            check("RssAnon ≤ s6-supervise's", mh["rss_anon"] <= sh["rss_anon"],
                  f"{mh['rss_anon']} vs {sh['rss_anon']} kB")
    if have_m and gate.get("cpu_per_probe_ms") is not None and gate.get("aplay_cpu_ms"):
        g = gate
        tg.append(f"| probe: no subprocess, ≥10× less CPU than an aplay probe | "
                  f"{'met' if g.get('forks') == 0 and g['cpu_per_probe_ms'] * 10 <= g['aplay_cpu_ms'] else '**missed**'} | "
                  f"{g.get('forks')} subprocesses; {g['cpu_per_probe_ms']:.3f} vs {g['aplay_cpu_ms']:.3f} ms"
                  + (f" (with the default stale-player search, amortized: {g['default_cpu_per_probe_ms']:.3f} ms)"
                     if g.get("default_cpu_per_probe_ms") is not None else "") + " |")
    targets_md = ("| target | result | monitord vs peer |\n|---|---|---|\n" + "\n".join(tg)) if tg else \
        "_monitord was not measured (it does not build yet), so the targets are not checked._"

    # where the syscalls go
    detail = []
    for k in keys:
        d = results.get(k, {}).get("crash", {}).get("syscall_detail")
        if d:
            top = sorted(d.items(), key=lambda kv: -kv[1])
            detail.append(f"- {labels[k]}: " + ", ".join(f"{n} {v:.1f}" for n, v in top))
        h = results.get(k, {}).get("healthy", {}).get("syscall_detail")
        if h:
            detail.append(f"  - healthy window: " + ", ".join(f"{n} {v}" for n, v in sorted(h.items())))
    per_round = []
    for k in keys:
        rc = results.get(k, {}).get("crash", {}).get("rounds_cpu_per_restart_ms")
        if rc:
            per_round.append(f"- {labels[k]}: " + ", ".join(f"{x:.3f}" for x in rc if x is not None))
    if per_round:
        detail = ["CPU per restart in each round (ms), in the order run (round-robin over the supervisors):", ""] \
            + per_round + [""] + detail
    errors = []
    for k in keys:
        for phase in ("healthy", "crash"):
            e = results.get(k, {}).get(phase, {}).get("error")
            if e:
                errors.append(f"- {labels[k]} ({phase}): {e}")
    startup_detail = []
    for k in keys:
        h = results.get(k, {}).get("healthy", {})
        s = h.get("startup_all")
        if s:
            startup_detail.append(f"- {labels[k]}: " + ", ".join(f"{x:.2f}" for x in s))
        sc = h.get("startup_syscalls")
        if sc:
            top = sorted(sc.items(), key=lambda kv: -kv[1])[:10]
            startup_detail.append(f"  - syscalls from its exec up to the spawn: {sum(sc.values())} ("
                                  + ", ".join(f"{n} {v}" for n, v in top) + ")")
    mem_detail = []
    for k in keys:
        ab = results.get(k, {}).get("healthy", {}).get("anon_breakdown")
        if ab:
            mem_detail.append(f"- {labels[k]}: " + ", ".join(f"{n} {v} kB" for n, v in ab))

    cpu = "?"
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    versions = ", ".join([f"s6 {tool_version('s6')}", f"runit {tool_version('runit')}",
                          f"daemontools {tool_version('daemontools')}", f"strace {tool_version('strace')}",
                          f"python {ctx['python_version']}"])
    cmd = "Benchmarks/compare.sh" + ("" if not ctx["argv_note"] else " " + ctx["argv_note"])
    md = f"""# monitord beside s6, runit, daemontools and the Python original

Generated by `Benchmarks/compare.sh`; do not edit by hand, run it again.

- date: {started.strftime('%Y-%m-%d %H:%M UTC')} (run took {elapsed / 60:.1f} min)
- machine: `{platform.uname().system} {platform.uname().node} {platform.uname().release} {platform.uname().version} {platform.uname().machine}`, {os.cpu_count()} CPUs, {cpu}
- peers: {versions}
- monitord: {ctx['monitord_desc']}{' (' + ' '.join(ctx['monitord_args']) + ')' if ctx['monitord_args'] else ''}
- reproduce: `{cmd}` (as root; `--quick` for a ~1 minute smoke run, `--help` for the windows)

Every number is for the **supervisor process only** (all its threads), never
its child. Peer cells show monitord's ratio to that peer in parentheses:
`(×0.50)` means monitord needs half of what the peer needs; `(=)` both zero;
`(×∞)` the peer needs none and monitord some.

{table}

{gate_md}

## Targets

{targets_md}

## Columns

- **context switches**: growth of `voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches`
  in `/proc/PID/task/*/status` over the window while the child sleeps. A
  voluntary switch is a wakeup: an idle supervisor should have none.
- **CPU time**: growth of the first field of `/proc/PID/task/*/schedstat`
  (ns on CPU) over the same window.
- **syscalls**: `strace -c -f -p PID` attached for a second window of the same
  length (separate, because attaching ptrace itself causes switches).
- **RssAnon** (`/proc/PID/status`): private anonymous memory, what each
  supervised service really costs. **Pss** (`/proc/PID/smaps_rollup`): resident
  memory with shared pages divided among their users. **VmRSS**: all resident pages.
- **startup to child exec**: CLOCK_MONOTONIC stamp written by a launcher just
  before it `exec`s the supervisor, to the stamp written at `main()` of the
  child (a tiny C program that then `exec`s `sleep 1000`). Includes the
  supervisor's exec and init, its fork/spawn, and the child's exec and dynamic
  loading (the same for all). Median of {args.runs} fresh starts.
- **crash loop**: the child is the same C program in a mode that appends one byte
  to a counter file and `_exit(1)`s (like `/bin/false`; the file size counts
  restarts). The peers throttle to one start per second; monitord runs with
  `--backoff-initial 1s --backoff-max 1s` to match. Windows start and end in the
  quiet middle of a 1 s wait, so they hold whole restart cycles.
  **CPU per restart** = schedstat growth / restarts. **syscalls per restart** =
  `strace -c -p PID` (the supervisor only, not `-f`) over a second window /
  restarts in it. **wakeups per restart** = voluntary switches / restarts.
  The Python original has no delay: its row shows how fast it spins and how
  much CPU it burns (share of one core; per-restart values are given for
  reference but not compared).
- service directories for s6-supervise, runsv and supervise hold only `run`, a
  symlink to the child program, so every supervisor execs the same binary
  directly (no shell in between).

## Where the crash-loop syscalls go (per restart, strace -c)

{chr(10).join(detail) if detail else '_none recorded_'}

## Startup samples (ms), and the supervisor's syscalls on the way to the spawn (one run under strace -f)

{chr(10).join(startup_detail) if startup_detail else '_none_'}

## What RssAnon is made of (Anonymous kB per mapping, /proc/PID/smaps, largest first)

{chr(10).join(mem_detail) if mem_detail else '_none_'}
{('## Errors' + chr(10) + chr(10) + chr(10).join(errors)) if errors else ''}
## Caveats

- strace runs in its own window; the CPU and context-switch numbers are taken
  without it. Syscall counts under ptrace are exact; nothing else from the
  strace window is used.
- The peers' run directories are fresh per start; supervise/runsv/s6-supervise
  create their `supervise/` state there, which is part of their startup cost.
- Numbers on a 2-core VM are noisy at the sub-millisecond level; the startup
  median and the per-restart means over whole cycles damp that, but repeat the
  run before trusting a difference under ~10 %.
- Pss of a single instance counts all of its binary's resident pages; a fully
  static monitord shares no library with anything else, so its Pss equals its
  VmRSS until a second monitord runs (then the file pages are split). RssAnon
  is the per-service cost that does not shrink.
- The gate phase needs a monitord with a shared libasound (the fully static
  release binary cannot load an external alsa-lib plugin such as the test
  plugin), so its RssAnon there is not comparable to the table's.
- The aplay comparison is one `aplay -d 1` failing at open on the busy PCM
  (rusage of the child, median of the startup run count): the cost of the
  spawn and of alsa-lib's configuration parsing, not 1 s of playback.
- monitord runs with its default logging (one stderr line per event that
  matters, to a file here); the peers log nothing on a crash.
"""
    return md


# ----------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(prog="Benchmarks/compare.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="~1 minute smoke run (short windows, 3 startups)")
    ap.add_argument("--healthy", type=float, default=20, help="healthy window, s (default 20; run twice: plain and strace)")
    ap.add_argument("--crash", type=float, default=20, help="crash-loop window, s (default 20; run twice)")
    ap.add_argument("--python-crash", type=float, default=8, help="crash window for the Python original, s (default 8)")
    ap.add_argument("--python-strace", type=float, default=3, help="strace window for the Python crash loop, s (default 3)")
    ap.add_argument("--gate", type=float, default=16,
                    help="ALSA gate window, s, rounded to a multiple of 4 probes at 2 s (default 16; three windows)")
    ap.add_argument("--runs", type=int, default=7, help="fresh starts for the startup median (default 7)")
    ap.add_argument("--settle", type=float, default=1.5,
                    help="wait after the child's exec before measuring, s (default 1.5: supervise sleeps 1 s after a start)")
    ap.add_argument("--only", help="comma-separated subset: monitord,s6,runsv,supervise,python")
    ap.add_argument("--phases", default="healthy,crash,gate", help="comma-separated subset of healthy,crash,gate")
    ap.add_argument("--force-gate", action="store_true", help="run the gate phase even if --help does not mention --alsa-gate")
    ap.add_argument("--monitord", action="append", default=[], metavar="[NAME=]PATH",
                    help="use this monitord binary instead of building one; repeat to measure several side by "
                         "side (the first is the reference of the ratios), e.g. --monitord embedded=dist/monitord "
                         "--monitord full=.build-bench/monitord-full")
    ap.add_argument("--rounds", type=int, default=1,
                    help="crash-loop windows per supervisor (not the Python original); the table shows the "
                         "median of each number (default 1)")
    ap.add_argument("--monitord-arg", action="append", default=[], dest="monitord_args",
                    help="extra option for monitord (repeatable), e.g. --monitord-arg=-q")
    ap.add_argument("--no-build-script", action="store_true", help="ignore scripts/build-release, use swift build")
    ap.add_argument("--no-monitord", action="store_true", help="measure the peers only")
    ap.add_argument("--output", default=os.path.join(REPO, "BENCHMARKS.md"), help="report path (default BENCHMARKS.md)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    given = []
    for i, spec in enumerate(args.monitord):
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = ("monitord" if i == 0 else f"monitord{i + 1}"), spec
        given.append((name, os.path.abspath(path)))
    args.monitord = given
    if args.quick:
        args.healthy, args.crash, args.python_crash, args.python_strace = 2, 3, 2, 1
        args.gate, args.runs = 4, 3

    if not sys.platform.startswith("linux"):
        sys.exit("compare: Linux only")
    started = datetime.datetime.now(datetime.timezone.utc)
    t_start = time.monotonic()
    set_subreaper()
    ctx = {"live": [], "work": tempfile.mkdtemp(prefix="monitord-compare-")}
    argv_note, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
        elif a == "--output":
            skip = True
        elif not a.startswith("--output="):
            argv_note.append(a)
    ctx["argv_note"] = " ".join(argv_note)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    try:
        ensure_peers()
        ctx["child"] = build_helper(os.path.join(SCRATCH, "compare"))
        ctx["python"] = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
        ctx["python_version"] = run([ctx["python"], "-c", "import platform; print(platform.python_version())"],
                                    capture_output=True, text=True).stdout.strip()
        ctx["monitord_args"] = args.monitord_args
        if args.no_monitord:
            ctx["monitord"], ctx["monitord_desc"] = None, "not measured (--no-monitord)"
        else:
            ctx["monitord"], ctx["monitord_desc"] = build_monitord(args)
            if len(args.monitord) > 1:
                ctx["monitord_binaries"] = args.monitord
                ctx["monitord_desc"] = ", ".join(f"{n}=`{os.path.relpath(p, REPO)}`" for n, p in args.monitord) \
                    + " (ratios against the first)"
            if not ctx["monitord"]:
                log(f"monitord: {ctx['monitord_desc']}; measuring the peers only")
                ctx["monitord_desc"] = f"not measured: {ctx['monitord_desc']}"
        t_measure = time.monotonic()
        sups = make_supervisors(ctx)
        if args.only:
            want = set(args.only.split(","))
            sups = [s for s in sups if s.key in want]
        ctx["supervisors"] = sups
        results = {}
        phases = set(args.phases.split(","))
        for sup in sups:
            results.setdefault(sup.key, {})
            if "healthy" not in phases:
                continue
            log(f"{sup.label}: healthy child")
            results.setdefault(sup.key, {})["healthy"] = phase_healthy(ctx, sup, args)
            kill_tree()
        # the Python crash loop loads the machine: run it last. Rounds go
        # round-robin over the supervisors, so a change in the machine's load
        # (other work on it) falls on all of them alike.
        crash_rounds = {}
        for r in range(args.rounds if "crash" in phases else 0):
            for sup in sorted(sups, key=lambda s: s.key == "python"):
                if sup.key == "python" and r > 0:
                    continue
                log(f"{sup.label}: crash loop" + (f" (round {r + 1} of {args.rounds})" if args.rounds > 1 else ""))
                crash_rounds.setdefault(sup.key, []).append(phase_crash(ctx, sup, args))
                kill_tree()
        for key, rounds in crash_rounds.items():
            results[key]["crash"] = median_of_rounds(rounds)
        gate = {"skipped": "not run (--phases)"}
        if "gate" in phases and any(s.key == "monitord" for s in sups):
            log("monitord: ALSA gate")
            gate = phase_gate(ctx, args)
        kill_tree()
        elapsed = time.monotonic() - t_start
        log(f"measured in {time.monotonic() - t_measure:.0f} s")
        md = build_report(ctx, results, gate, args, started, elapsed)
        # Sections other scripts generate (Benchmarks/gate-latency.py) are kept.
        try:
            with open(args.output) as f:
                old = f.read()
            marker = "<!-- gate-latency -->"
            if marker in old:
                md = md.rstrip("\n") + "\n\n" + old[old.index(marker):]
            # ... and so is the hand-written section on top (the
            # Embedded vs full comparison, Benchmarks/callgrind.sh).
            top, end = "<!-- embedded-vs-full -->", "<!-- /embedded-vs-full -->"
            if top in old and end in old:
                md = old[old.index(top):old.index(end) + len(end)] + "\n\n" + md
        except OSError:
            pass
        with open(args.output, "w") as f:
            f.write(md)
        print(md)
        log(f"wrote {args.output}")
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        kill_tree()
        if not args.keep:
            shutil.rmtree(ctx["work"], ignore_errors=True)
        else:
            log(f"scratch kept in {ctx['work']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

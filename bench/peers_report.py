#!/usr/bin/env python3
"""Runs the mailbox and its peers (BullMQ on Redis, pg-boss on PostgreSQL) with the same workload
shapes and writes one side-by-side table into docs/benchmarks.md (issue 6, "Peers, side by side").

usage: bench/peers_report.py LOADGEN_BINARY [--repetitions 3] [--jobs 20000] [--concurrency 32]
                             [--max-seconds 120] [--peers-dir ../shared/bench-peers]
                             [--work-dir DIR] [--out docs/benchmarks.md]

Each repetition runs, one after the other:
  ours, power-loss safe:    LOADGEN_BINARY --workloads throughput,latency --threads 100
                            --dispatches-n JOBS --sync on --max-seconds S --json FILE
  ours, process-crash safe: the same with --sync off
  theirs:                   run.sh JOBS CONCURRENCY from a copy of --peers-dir (it starts Redis
                            with appendfsync everysec and always, and PostgreSQL with
                            synchronous_commit off and on, on 127.0.0.1, and stops them), one JSON
                            line per peer and durability class.
The table holds the median of the repetitions for each figure, and per durability class the
ratio of our end-to-end rate to the best peer's (issue 6 target: at least 10x). The section
between the peers markers is replaced; nothing else in the file changes (a missing section is
appended at the end of the file).

The peers folder is copied to --work-dir (default: a fresh temp folder, removed at the end) and
`npm install` runs there if its node_modules lack bullmq, so the shared folder stays untouched.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

BEGIN = "<!-- peers:begin -->"
END = "<!-- peers:end -->"
SECTION_TITLE = "## Side by side with peers (issue 6)"
TARGET = 10.0  # issue 6: background throughput at least 10x the best peer in each class

# Durability classes: (key, title, our --sync, peer durability strings as run.sh prints them).
CLASSES = [
    ("crash", "process-crash safe", "off",
     {"bullmq": "appendfsync everysec", "pg-boss": "synchronous_commit=off"}),
    ("power", "power-loss safe", "on",
     {"bullmq": "appendfsync always", "pg-boss": "synchronous_commit=on"}),
]
OUR_STORE = {"off": "RocksDB WAL written, not synced", "on": "RocksDB WAL synced on every write"}
PEER_NAME = {"bullmq": "BullMQ (Redis)", "pg-boss": "pg-boss (PostgreSQL)"}


# ---- machine and versions ------------------------------------------------------------------

def load():
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "?"


def sh(cmd, cwd=None):
    """First line of a command's output, or a note that it failed (never raises)."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=30)
        text = (out.stdout or out.stderr).strip()
        return text.splitlines()[0] if text else f"(`{' '.join(cmd)}` printed nothing)"
    except (OSError, subprocess.SubprocessError) as e:
        return f"(`{' '.join(cmd)}` failed: {e})"


def machine():
    model, mhz = "?", None
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            k, _, v = line.partition(":")
            if k.strip() == "Model name":
                model = v.strip()
            elif k.strip() in ("CPU MHz", "CPU max MHz") and mhz is None:
                mhz = f"{float(v.strip()):.0f} MHz (lscpu)"
    except OSError:
        pass
    if mhz is None:  # lscpu of this VM prints no MHz; the kernel's figure
        try:
            for line in open("/proc/cpuinfo"):
                if line.startswith("cpu MHz"):
                    mhz = f"{float(line.split(':')[1]):.0f} MHz (/proc/cpuinfo)"
                    break
        except OSError:
            pass
    return f"{os.cpu_count()} CPUs, {model}, {mhz or '? MHz'}, {platform.platform()}"


def rocksdb_version():
    for h in ("/usr/include/rocksdb/version.h", "/usr/local/include/rocksdb/version.h"):
        try:
            v = {}
            for line in open(h):
                parts = line.split()
                if len(parts) == 3 and parts[0] == "#define" and parts[1].startswith("ROCKSDB_"):
                    v[parts[1]] = parts[2]
            return f"RocksDB {v['ROCKSDB_MAJOR']}.{v['ROCKSDB_MINOR']}.{v['ROCKSDB_PATCH']}"
        except (OSError, KeyError):
            continue
    return "RocksDB 7.8 (version.h not found)"


def pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return found[-1] if found else None


def package_version(pkg_dir, name):
    try:
        return json.load(open(os.path.join(pkg_dir, "node_modules", name, "package.json")))["version"]
    except (OSError, KeyError, ValueError):
        return "not installed"


def versions(pkg_dir):
    pg = pg_bin()
    spec = {}
    try:
        spec = json.load(open(os.path.join(pkg_dir, "package.json"))).get("dependencies", {})
    except (OSError, ValueError):
        pass
    return ", ".join([
        rocksdb_version(),
        sh(["redis-server", "--version"]).split(" sha=")[0],
        sh([os.path.join(pg, "postgres"), "--version"]) if pg else "PostgreSQL: not installed",
        "node " + sh(["node", "--version"]),
        f"bullmq {package_version(pkg_dir, 'bullmq')} (package.json: {spec.get('bullmq', '?')}, "
        f"ioredis {package_version(pkg_dir, 'ioredis')})",
        f"pg-boss {package_version(pkg_dir, 'pg-boss')} (package.json: {spec.get('pg-boss', '?')}, "
        f"pg {package_version(pkg_dir, 'pg')})",
    ])


def git_state(repo):
    head = sh(["git", "rev-parse", "--short", "HEAD"], cwd=repo)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                           capture_output=True, text=True).stdout.strip()
    return head + (" with uncommitted changes in the tree" if dirty else "")


# ---- the runs ----------------------------------------------------------------------------------

def run_ours(binary, sync, args):
    """One mbx_loadgen process: throughput at T=100 and foreground latency, one sync setting."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    flags = ["--workloads", "throughput,latency", "--threads", "100", "--dispatches-n", str(args.jobs),
             "--sync", sync, "--max-seconds", f"{args.max_seconds:g}"]
    try:
        before = load()
        p = subprocess.run([binary] + flags + ["--json", path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        after = load()
        result = {"load": (before, after), "error": None}
        try:
            rows = json.load(open(path))["rows"]
        except (OSError, ValueError, KeyError):
            rows = []
        if p.returncode != 0 or not rows:
            tail = " / ".join(p.stderr.strip().splitlines()[-3:])
            result["error"] = f"mbx_loadgen --sync {sync} exited {p.returncode}: {tail}"
        for r in rows:
            if r["workload"] == "background throughput":
                result["rate"] = r["value"]
                result["limit"] = r["limit"]
                result["note"] = r["note"]
            elif r["workload"] == "foreground latency" and r["metric"] == "submit -> first event p50":
                result["p50"] = r["value"]
                result["lat_note"] = r["note"].split(";")[0]
            elif r["workload"] == "foreground latency" and r["metric"] == "submit -> first event p99":
                result["p99"] = r["value"]
        return result
    finally:
        os.unlink(path)


def prepare_peers(args):
    work = args.work_dir or tempfile.mkdtemp(prefix="mbx-peers-")
    pkg = os.path.join(work, "bench-peers")
    if not os.path.isdir(pkg):
        shutil.copytree(args.peers_dir, pkg, ignore=shutil.ignore_patterns("node_modules"))
        for root, dirs, files in os.walk(pkg):  # the shared copy is read-only
            for n in dirs + files:
                p = os.path.join(root, n)
                os.chmod(p, os.stat(p).st_mode | 0o200)
    if not os.path.isdir(os.path.join(pkg, "node_modules", "bullmq")):
        sys.stderr.write(f"peers_report: npm install in {pkg}\n")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=pkg, check=False,
                       stdout=subprocess.DEVNULL)
    return work, pkg


def run_theirs(pkg, args):
    before = load()
    p = subprocess.run([os.path.join(pkg, "run.sh"), str(args.jobs), str(args.concurrency)], cwd=pkg,
                       capture_output=True, text=True)
    after = load()
    lines = {}
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                r = json.loads(line)
                lines[(r["peer"], r["durability"])] = r
            except (ValueError, KeyError):
                pass
    error = None
    if p.returncode != 0:
        tail = " / ".join(p.stderr.strip().splitlines()[-4:]) or "(no stderr)"
        error = f"run.sh exited {p.returncode} after {len(lines)} of 4 results: {tail}"
    return {"rows": lines, "load": (before, after), "error": error}


# ---- the table -----------------------------------------------------------------------------------

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def rate(v):
    return "failed" if v is None else f"{v:,.0f}/s"


def ms(v):
    return "failed" if v is None else f"{v:.2f} ms"


def build_section(args, ours, theirs, header, notes_extra):
    lines = ["| durability class | system | store setting | end-to-end runs/s | enqueue/s | "
             "start latency p50 | start latency p99 | finished (per run) | ours / best peer |",
             "|---|---|---|---:|---:|---:|---:|---|---:|"]
    verdicts, details = [], []
    for key, title, sync, peer_modes in CLASSES:
        runs = ours[sync]
        our_rate = median([r.get("rate") for r in runs])
        finished = []
        for r in runs:
            n = r.get("note", "")
            if not n:
                finished.append("failed")
                continue
            part = n.split(" (acked")[0].replace("finished ", "")
            of = n.split(") of ")[1].split(" ")[0] if ") of " in n else "?"
            secs = n.split(" in ")[1].split(" s;")[0] if " in " in n else "?"
            finished.append(f"{part}/{of} in {float(secs):.1f} s" + (" (cap)" if "TIME CAP" in n else ""))
        peer_meds = {}
        peer_rows = []
        for peer, mode in peer_modes.items():
            rs = [t["rows"].get((peer, mode)) for t in theirs]
            e2e = median([r["end_to_end_per_s"] for r in rs if r])
            peer_meds[peer] = e2e
            enq = median([r["enqueue_per_s"] for r in rs if r])
            p50 = median([r["enqueue_to_start_ms_p50"] for r in rs if r])
            p99 = median([r["enqueue_to_start_ms_p99"] for r in rs if r])
            fin = ", ".join(f"{r['completed']}/{r['jobs']}" if r else "failed" for r in rs)
            peer_rows.append(f"| {title} | {PEER_NAME[peer]} | {mode} | {rate(e2e)} | {rate(enq)} | {ms(p50)} | "
                             f"{ms(p99)} | {fin} |  |")
        best = max(((v, p) for p, v in peer_meds.items() if v is not None), default=None)
        ratio = our_rate / best[0] if (best and our_rate is not None and best[0] > 0) else None
        ratio_txt = "n/a" if ratio is None else f"{ratio:.2f}x (vs {PEER_NAME[best[1]]})"
        lines.append(f"| {title} | **mailbox** | {OUR_STORE[sync]} | **{rate(our_rate)}** | not measured | "
                     f"{ms(median([r.get('p50') for r in runs]))} | {ms(median([r.get('p99') for r in runs]))} | "
                     f"{', '.join(finished)} | **{ratio_txt}** |")
        lines.extend(peer_rows)
        if ratio is None:
            verdicts.append(f"- {title}: not measured (a side failed, see the notes).")
        else:
            verdicts.append(f"- {title}: **{'met' if ratio >= TARGET else 'not met'}**, ours / best peer = "
                            f"{ratio:.2f}x ({our_rate:,.0f} vs {best[0]:,.0f} runs/s, {PEER_NAME[best[1]]}); "
                            f"target >= {TARGET:g}x.")
        limits = [r.get("limit") for r in runs]
        details.append(f"- mailbox, {title}: end-to-end per run "
                       + ", ".join(rate(r.get("rate")) for r in runs)
                       + f"; bare-RocksDB limit for the same writes (mbx_loadgen, same run) median "
                       + f"{rate(median(limits))}; latency samples per run: "
                       + " / ".join(r.get("lat_note", "failed") for r in runs) + ".")
        for peer, mode in peer_modes.items():
            rs = [t["rows"].get((peer, mode)) for t in theirs]
            details.append(f"- {PEER_NAME[peer]}, {mode}: end-to-end per run "
                           + ", ".join(rate(r["end_to_end_per_s"]) if r else "failed" for r in rs)
                           + "; enqueue per run " + ", ".join(rate(r["enqueue_per_s"]) if r else "failed" for r in rs)
                           + "; start p99 per run " + ", ".join(ms(r["enqueue_to_start_ms_p99"]) if r else "failed"
                                                               for r in rs) + ".")
    body = "\n".join(lines) + "\n"
    text = (BEGIN + "\n" + header + body + "\nAgainst the target (background throughput at least 10x the best "
            "peer in each durability class), computed by the script from the medians above:\n\n"
            + "\n".join(verdicts) + "\n\nPer run:\n\n" + "\n".join(details + notes_extra) + "\n" + END)
    return text


NOTES = """Reading the table:

- *End-to-end runs/s*: JOBS no-op runs over 100 keys, from the first enqueue to the last one
  finished. Ours: `submit_background` from 16 submitter threads (4 until the sixth session) to
  100 conversation threads, one
  run at a time per thread (the engine serializes runs per thread; the peers do not serialize per
  key), our default `MailboxConfig` (run pool of 64 threads; `mbx_loadgen` has no flag for the
  run concurrency, so `--concurrency` applies to the peers only), counted to the last ack.
  Theirs: `run.sh` enqueues JOBS jobs at once, CONCURRENCY workers (BullMQ: one `Worker` with
  `concurrency`; pg-boss: 4 `work()` loops fetching batches of CONCURRENCY). A capped run's rate
  is what finished within the cap (ours `--max-seconds`, BullMQ and pg-boss 120 s in their
  scripts).
- *Enqueue/s*: the peers' rate of accepting jobs alone; `mbx_loadgen` has no separate figure for
  it (its submitters run while the engine executes), so ours reads "not measured".
- *Start latency*: the shapes differ. Ours is a **foreground** `submit` on an idle node, submit
  call -> first event (`run_start`) read from the returned stream, half new threads and half
  threads that ran before, one at a time. The peers' figure is a **background** enqueue -> the job
  handler starting, one job at a time on an idle queue. pg-boss fetches by polling (v10: at least
  every 0.5 s; `pgboss.mjs` uses 0.5 s), so its start latency is its poll interval, and its
  end-to-end rate is bounded by 4 loops x CONCURRENCY jobs per poll (256 jobs/s at 32) as
  configured in `pgboss.mjs`, not by PostgreSQL.
- *Durability classes*: process-crash safe = our WAL written but not synced (`--sync off`) vs
  Redis `appendonly yes` + `appendfsync everysec` vs PostgreSQL `synchronous_commit=off`;
  power-loss safe = our synced writes (`--sync on`) vs Redis `appendfsync always` vs PostgreSQL
  `synchronous_commit=on` (its default)."""


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", help="mbx_loadgen")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--max-seconds", type=float, default=120,
                    help="mbx_loadgen's time cap per setting (the peers' scripts wait 120 s)")
    ap.add_argument("--peers-dir", default=os.path.join(repo, "..", "shared", "bench-peers"))
    ap.add_argument("--work-dir", help="where the peers folder is copied and npm-installed (kept)")
    ap.add_argument("--out", default=os.path.join(repo, "docs", "benchmarks.md"))
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"peers_report: {binary} is not executable")

    started = datetime.datetime.now().astimezone()
    # What was measured: the repository when the run started and when the binary was built (the
    # binary is not rebuilt here; a tree that moved since its build is not what ran).
    built = datetime.datetime.fromtimestamp(os.stat(binary).st_mtime).astimezone()
    engine = (f"mbx_loadgen built {built.strftime('%Y-%m-%d %H:%M %Z')}; repository at the start of the run: "
              f"{git_state(repo)}")
    work, pkg = prepare_peers(args)
    try:
        ours = {"on": [], "off": []}
        theirs = []
        conditions, failures = [], []
        for i in range(args.repetitions):
            for sync in ("on", "off"):
                sys.stderr.write(f"peers_report: repetition {i + 1}/{args.repetitions}: mbx_loadgen --sync {sync}\n")
                r = run_ours(binary, sync, args)
                ours[sync].append(r)
                conditions.append(f"rep {i + 1} ours --sync {sync}: {r['load'][0]} -> {r['load'][1]}")
                if r["error"]:
                    failures.append(f"- Repetition {i + 1}: {r['error']}")
            sys.stderr.write(f"peers_report: repetition {i + 1}/{args.repetitions}: run.sh\n")
            t = run_theirs(pkg, args)
            theirs.append(t)
            conditions.append(f"rep {i + 1} peers: {t['load'][0]} -> {t['load'][1]}")
            if t["error"]:
                failures.append(f"- Repetition {i + 1}: {t['error']}")
        pkg_versions = versions(pkg)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)

    cmd = (f"python3 bench/peers_report.py {args.binary} --repetitions {args.repetitions} --jobs {args.jobs} "
           f"--concurrency {args.concurrency} --max-seconds {args.max_seconds:g}"
           + (f" --work-dir {args.work_dir}" if args.work_dir else ""))
    header = (
        f"Measured {started.strftime('%Y-%m-%d %H:%M %Z')} on {platform.node()}: {machine()}. Versions: "
        f"{pkg_versions}. Mailbox: {engine}. Command: `{cmd}` (under `nice`), which runs per "
        f"repetition `mbx_loadgen --workloads throughput,latency --threads 100 --dispatches-n {args.jobs} "
        f"--sync on|off --max-seconds {args.max_seconds:g} --json FILE` and `run.sh {args.jobs} "
        f"{args.concurrency}` (a copy of `../shared/bench-peers`). Medians of {args.repetitions} repetition(s). "
        f"The machine is shared and noisy (2 cores, other sessions' builds and benchmarks); 1-minute load "
        f"average before -> after each run: " + "; ".join(conditions) + ".\n\n")
    notes_extra = (["", "Failures:", ""] + failures) if failures else []
    section = build_section(args, ours, theirs, header, notes_extra)
    section = section.replace("\n" + END, "\n\n" + NOTES + "\n" + END)

    # Read the file only now: other sections may have changed while this ran.
    text = open(args.out).read()
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + SECTION_TITLE + "\n\n" + section + "\n"
    open(args.out, "w").write(text)
    sys.stdout.write(section + "\n")


if __name__ == "__main__":
    main()

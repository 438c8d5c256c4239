#!/usr/bin/env python3
"""Runs the end-to-end load generator and writes its table into docs/benchmarks.md.

usage: bench/loadgen_report.py LOADGEN_BINARY [--out docs/benchmarks.md] [--repetitions 3]
                               [--idle-repetitions 1] [--idle-threads 100000]
                               [--http-repetitions 3] [--recovery-repetitions 1]
                               [--recovery-queued 100000] [--recovery-claimed 1000]
                               [--recovery-threads 10000] [--recovery-max-seconds 900]
                               [-- extra flags for mbx_loadgen]

Throughput, latency and interrupt run `--repetitions` times; the idle-threads workload (one run
per thread, minutes at 100 000 threads) runs `--idle-repetitions` times in a process of its own;
the HTTP path (a mailboxd child next to the embedded equivalents) `--http-repetitions` times and
recovery (building a fixture of `--recovery-queued` + `--recovery-claimed` dispatches, then
restarting on it, capped at `--recovery-max-seconds`) `--recovery-repetitions` times, each in a
process of its own. 0 repetitions skips a workload.

The binary runs `--repetitions` times (each run measures every workload next to its limit in the
same process); each figure in the table is the median over the runs, and the ratio is the median
of the per-run ratios (workload / limit of the same run). The section between the loadgen
markers is replaced; nothing else in the file changes.
"""
import argparse
import datetime
import json
import os
import re
import platform
import statistics
import subprocess
import sys
import tempfile

BEGIN = "<!-- loadgen:begin -->"
END = "<!-- loadgen:end -->"


def other_builds():
    """Compiler processes running on the machine (other sessions' builds), as a count."""
    try:
        out = subprocess.run(["ps", "-eo", "comm"], capture_output=True, text=True).stdout.split()
    except OSError:
        return 0
    return sum(1 for c in out if c in ("cc1plus", "cc1", "ld", "collect2"))


def load():
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "?"


def cpu_mhz():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("cpu MHz"):
                return f"{float(line.split(':')[1]):.0f}"
    except OSError:
        pass
    return "?"


def run_once(binary, extra):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    try:
        before = (load(), other_builds())
        subprocess.run([binary, "--json", path] + extra, check=True, stdout=subprocess.DEVNULL)
        after = (load(), other_builds())
        return json.load(open(path))["rows"], before, after
    finally:
        os.unlink(path)


def fmt(v, unit):
    if v is None:
        return ""
    if unit == "ms":
        return f"{v:.2f} ms"
    if unit == "s":
        return f"{v * 1000:.1f} ms" if v < 0.1 else f"{v:.2f} s"
    if unit == "bytes":
        return f"{v:,.0f} B"
    if unit == "dispatches/s":
        return f"{v:,.0f}/s"
    return f"{v:,.0f} {unit}"


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def table(runs):
    keys, groups = [], {}
    for rows in runs:
        for r in rows:
            k = (r["workload"], r["setting"], r["metric"])
            if k not in groups:
                keys.append(k)
                groups[k] = []
            groups[k].append(r)
    lines = ["| workload | setting | metric | value (median) | limit (median) | ratio |",
             "|---|---|---|---:|---:|---:|"]
    notes = []
    for k in keys:
        rs = groups[k]
        unit = rs[0]["unit"]
        value = median([r["value"] for r in rs])
        limit = median([r["limit"] for r in rs])
        ratio = median([r["ratio"] for r in rs])
        limit_unit = unit if unit != "dispatches/s" else "dispatches/s"
        limit_txt = fmt(limit, limit_unit) if limit is not None else ""
        if limit is not None and k[0] == "idle threads":
            limit_txt = "1 KiB (target)"
        if limit is not None and rs[0].get("limit_what", "").startswith("target:"):
            limit_txt = fmt(limit, limit_unit) + " (target)"
        ratio_txt = "" if ratio is None else (f"{ratio:.0%}" if unit == "dispatches/s" else f"{ratio:.2f}x")
        value_txt = fmt(value, unit)
        # A recovery time that hit the time cap is a lower bound.
        if k[0] == "recovery" and unit == "s" and any("TIME CAP HIT" in r["note"] for r in rs) and \
                not k[2].startswith(("store open", "restart -> recovery done")):
            value_txt = ">= " + value_txt + " (time cap)"
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {value_txt} | {limit_txt} | {ratio_txt} |")
        if k[0] == "background throughput":
            per_run = []
            for r in rs:
                n = r["note"]
                m = re.search(r"finished (\d+) .* of (\d+) in ([\d.]+) s; (?:(\d+) submitters, )?submit retries (\d+)", n)
                w = re.search(r"\(([\d.]+) synced\)", n)
                c = re.search(r"CPU per dispatch \(user \+ system, whole process\): engine ([\d.]+) us .*limit ([\d.]+) us", n)
                per_run.append((f"{m.group(1)}/{m.group(2)} in {float(m.group(3)):.1f} s, "
                                + (f"{m.group(4)} submitters, " if m.group(4) else "")
                                + f"{m.group(5)} submit retries" if m else "?")
                               + (f", {w.group(1)} synced writes/dispatch" if w else "")
                               + (f", CPU per dispatch {float(c.group(1)):.0f} us (limit {float(c.group(2)):.0f} us)"
                                  if c else "")
                               + (" (TIME CAP HIT)" if "TIME CAP" in n else ""))
            notes.append(f"- {k[1]}: limit = {rs[-1]['limit_what']}. Runs: " + "; ".join(per_run) + ".")
            m = re.search(r"minimum writes/dispatch \(one run alone\): ([^;]*);", rs[-1]["note"])
            if m and not any(x.startswith("- Writes of one background dispatch") for x in notes):
                notes.insert(0, f"- Writes of one background dispatch run alone (calibration, from "
                                f"`mailbox_operations_total`): {m.group(1)}; `append_event` is unsynced "
                                f"(`sync_events = false`), the rest follow the store's sync setting.")
        elif k[0] in ("foreground latency", "interrupt latency") and k[2].endswith("first event p50"):
            m = re.search(r"store writes per sample: (.*)$", rs[-1]["note"])
            if m:
                notes.append(f"- {k[0]}, {k[1]}: {m.group(1)}; samples per run: "
                             + " / ".join(r["note"].split(";")[0] for r in rs) + ".")
        elif k[0] == "idle threads" and k[2] != "workers alive after idling":
            notes.append(f"- {k[1]}, {k[2]}: " + "; ".join(r["note"] for r in rs) + ".")
        elif k[0] == "recovery" and k[2].startswith("restart -> recovery done"):
            notes.append(f"- recovery, {k[1]}: limit = {rs[-1]['limit_what']}. Runs: "
                         + "; ".join(r["note"] for r in rs) + ".")
        elif k[0] == "http path" and (k[2] == "background dispatches/s" or k[2].endswith("first event p50")):
            notes.append(f"- http path, {k[1]}, {k[2].replace(' p50', '')}: limit = "
                         f"{rs[-1]['limit_what'].replace(', p50', '')}. Runs: " + "; ".join(r["note"] for r in rs) + ".")
    return "\n".join(lines) + "\n", notes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs",
                                                  "benchmarks.md"))
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--idle-repetitions", type=int, default=1,
                    help="runs of the idle-threads workload (slow: one run per thread); 0 skips it")
    ap.add_argument("--idle-threads", type=int, default=100000)
    ap.add_argument("--http-repetitions", type=int, default=3,
                    help="runs of the HTTP-path workload (a mailboxd child next to the embedded equivalents)")
    ap.add_argument("--recovery-repetitions", type=int, default=1,
                    help="runs of the recovery workload (builds its fixture first); 0 skips it")
    ap.add_argument("--recovery-queued", type=int, default=100000)
    ap.add_argument("--recovery-claimed", type=int, default=1000)
    ap.add_argument("--recovery-threads", type=int, default=10000)
    ap.add_argument("--recovery-max-seconds", type=int, default=900,
                    help="time cap of the restart (claimed again, finished); the fixture build has its own")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []  # flags passed to mbx_loadgen
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    runs, conditions = [], []
    main_flags = ["--workloads", "throughput,latency,interrupt"] + extra
    idle_flags = ["--workloads", "idle", "--idle-threads", str(args.idle_threads)] + extra
    http_flags = ["--workloads", "http"] + extra
    recovery_flags = ["--workloads", "recovery", "--recovery-queued", str(args.recovery_queued),
                      "--recovery-claimed", str(args.recovery_claimed), "--recovery-threads",
                      str(args.recovery_threads), "--max-seconds", str(args.recovery_max_seconds)] + extra
    plan = ([("main", main_flags)] * args.repetitions + [("http", http_flags)] * args.http_repetitions
            + [("idle", idle_flags)] * args.idle_repetitions
            + [("recovery", recovery_flags)] * args.recovery_repetitions)
    for i, (what, flags) in enumerate(plan):
        sys.stderr.write(f"loadgen_report: run {i + 1} of {len(plan)} ({what})\n")
        rows, before, after = run_once(args.binary, flags)
        runs.append(rows)
        conditions.append(f"run {i + 1} ({what}): load {before[0]} -> {after[0]}, "
                          f"compiler processes {before[1]} -> {after[1]}")
    body, notes = table(runs)
    cmd = ("python3 bench/loadgen_report.py " + args.binary + f" --repetitions {args.repetitions}"
           f" --idle-repetitions {args.idle_repetitions} --idle-threads {args.idle_threads}"
           f" --http-repetitions {args.http_repetitions} --recovery-repetitions {args.recovery_repetitions}"
           f" --recovery-queued {args.recovery_queued} --recovery-claimed {args.recovery_claimed}"
           f" --recovery-threads {args.recovery_threads} --recovery-max-seconds {args.recovery_max_seconds}")
    if extra:
        cmd += " -- " + " ".join(extra)
    header = (f"Measured {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} on {platform.node()}: "
              f"{os.cpu_count()} CPUs at {cpu_mhz()} MHz, {platform.platform()}, RocksDB 7.8.3, store folders in "
              f"{os.environ.get('TMPDIR', '/tmp')}. Command: `{cmd}`. Medians of {args.repetitions} runs "
              f"(HTTP path: {args.http_repetitions}, idle threads: {args.idle_repetitions}, recovery: "
              f"{args.recovery_repetitions}); machine load during the runs (1-min load average, "
              f"other compiler processes): "
              + "; ".join(conditions) + ".\n\n")
    section = BEGIN + "\n" + header + body + ("\nDetails per run:\n\n" + "\n".join(notes) + "\n" if notes else "") + END
    text = open(args.out).read() if os.path.exists(args.out) else "# Benchmarks\n\n" + BEGIN + "\n" + END + "\n"
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text += "\n" + section + "\n"
    open(args.out, "w").write(text)
    sys.stdout.write(header + body)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Runs the store micro benchmarks and writes their table into docs/benchmarks.md.

usage: bench/store_report.py BENCH_BINARY [--out docs/benchmarks.md] [--repetitions 3]

Each figure is the median of the repetitions (run in random order across all benchmarks), all
measured in one run of one process, next to the limit measured in the same run: a bare RocksDB
WriteBatch with 8 keys (the enqueue batch has 8 operations) at the same sync setting and
writer count. claim + ack is two writes (of 9 and 7 operations), so its limit is half that
rate.
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys

BEGIN = "<!-- store-bench:begin -->"
END = "<!-- store-bench:end -->"


def run(binary, repetitions, min_time):
    out = subprocess.run(
        [binary, "--benchmark_format=json", f"--benchmark_repetitions={repetitions}",
         "--benchmark_report_aggregates_only=true", f"--benchmark_min_time={min_time}",
         # Repetitions run in random order across all benchmarks, so a store figure and its
         # limit sample the same moments of a shared, noisy machine.
         "--benchmark_enable_random_interleaving=true"],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def parse(data):
    rows = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"]
        m = re.match(r"BM_(\w+)/sync:(\d)(?:/keys:(\d+))?.*threads:(\d+)", name)
        if not m:
            continue
        op, sync, keys, threads = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
        if op == "RawWriteBatch":
            op = f"RawWriteBatch{keys}"
        rows[(op, sync, threads)] = b["items_per_second"]
    return rows


def table(rows):
    lines = ["| operation | sync | writers | ops/s (median) | limit ops/s | store / limit |",
             "|---|---|---|---:|---:|---:|"]
    # The limit of one op: one bare 8-key WriteBatch per store write (claim + ack is 2 writes).
    for op, label, writes in (("StoreEnqueue", "enqueue", 1), ("StoreClaimAck", "claim + ack", 2),
                              ("StoreAppend", "commit_run_append, 1 msg of 200 B", 1)):
        for sync in (0, 1):
            for threads in (1, 2, 8, 32):
                v = rows.get((op, sync, threads))
                raw = rows.get(("RawWriteBatch8", sync, threads))
                if v is None or raw is None:
                    continue
                limit = raw / writes
                lines.append(f"| {label} | {'synced' if sync else 'unsynced'} | {threads} | {v:,.0f} | "
                             f"{limit:,.0f} | {v / limit:.0%} |")
    lines.append("")
    gc = []
    for op in ("StoreEnqueue", "StoreClaimAck", "StoreAppend", "RawWriteBatch8"):
        one, many = rows.get((op, 1, 1)), rows.get((op, 1, 32))
        if one and many:
            gc.append(f"- {op}: synced, 32 writers / 1 writer = {many / one:.1f}x "
                      f"({many:,.0f} vs {one:,.0f} ops/s)")
    return "\n".join(lines) + "\n\nGroup commit (synced writes):\n\n" + "\n".join(gc) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "docs", "benchmarks.md"))
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--min-time", default="0.5")
    args = ap.parse_args()
    data = run(args.binary, args.repetitions, args.min_time)
    rows = parse(data)
    ctx = data.get("context", {})
    header = (f"Measured {datetime.date.today().isoformat()} on {platform.node()}: {ctx.get('num_cpus')} CPUs at "
              f"{ctx.get('mhz_per_cpu')} MHz, {platform.platform()}, RocksDB 7.8.3, store folder in "
              f"{os.environ.get('TMPDIR', '/tmp')}. Command: `python3 bench/store_report.py {args.binary} "
              f"--repetitions {args.repetitions}`.\n\n")
    section = BEGIN + "\n" + header + table(rows) + END
    text = open(args.out).read() if os.path.exists(args.out) else "# Benchmarks\n\n" + BEGIN + "\n" + END + "\n"
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text += "\n" + section + "\n"
    open(args.out, "w").write(text)
    sys.stdout.write(header + table(rows))


if __name__ == "__main__":
    main()

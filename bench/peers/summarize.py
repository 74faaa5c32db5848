#!/usr/bin/env python3
"""Summarises a run.sh output dir: medians over rounds per (scenario, peer, durability), stdlib only.

Usage: summarize.py OUT_DIR   (reads OUT_DIR/results.jsonl and machine.json; writes summary.md and
summary.json; prints summary.md). Medians, not means: the machine is shared and a round can be disturbed.
"""
import json
import os
import statistics
import sys

METRICS = [("records_per_s", "records/s"), ("mb_per_s", "MiB/s")]
LATENCIES = ["avg", "p50", "p99", "p99_9", "max"]


def load(path):
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                print(f"{path}:{number}: skipping unparsable line ({e})", file=sys.stderr)
    return rows


def median_or_none(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return round(statistics.median(values), 3) if values else None


def summarise(rows):
    groups = {}
    for r in rows:
        if "status" in r:
            continue
        key = (str(r.get("scenario")), r.get("peer"), r.get("durability"))
        groups.setdefault(key, []).append(r)
    summary = []
    for (scenario, peer, durability), rs in sorted(groups.items()):
        entry = {"scenario": scenario, "peer": peer, "durability": durability, "rounds": len(rs),
                 "version": rs[0].get("version"), "record_bytes": rs[0].get("record_bytes")}
        for metric, _ in METRICS:
            entry[metric] = median_or_none([r.get(metric) for r in rs])
        entry["latency_ms"] = {q: median_or_none([r.get("latency_ms", {}).get(q) for r in rs])
                               for q in LATENCIES}
        entry["latency_kind"] = rs[0].get("latency_kind")
        summary.append(entry)
    notes = sorted({(r["status"], r.get("peer"), r.get("scenario"), r.get("durability"), r.get("reason"))
                    for r in rows if "status" in r}, key=str)
    return summary, notes


def fmt(value):
    return "-" if value is None else f"{value:,.3f}".rstrip("0").rstrip(".")


def markdown(summary, notes, machine):
    out = ["# Peer benchmark summary (medians over rounds)", ""]
    if machine:
        out += [f"- machine: {machine.get('nproc')} cpus, {machine.get('mem_total_bytes', 0) / 2**30:.1f} GiB,"
                f" {machine.get('cpu_model')}",
                f"- load average at start / end: {machine.get('loadavg_at_start')} / "
                f"{machine.get('loadavg_at_end')}", ""]
    out += ["| scenario | peer | durability | rounds | records/s | MiB/s | lat avg | p50 | p99 | p99.9 | max |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for e in summary:
        lat = e["latency_ms"]
        out.append(f"| {e['scenario']} | {e['peer']} {e['version']} | {e['durability']} | {e['rounds']} | "
                   f"{fmt(e['records_per_s'])} | {fmt(e['mb_per_s'])} | "
                   + " | ".join(fmt(lat[q]) for q in LATENCIES) + " |")
    out += ["", "Latencies in ms; what each peer's latency measures differs (see latency_kind in results.jsonl)."]
    if notes:
        out += ["", "Not measured:", ""]
        out += [f"- {status}: {peer} {scenario} durability={dur}: {reason}"
                for status, peer, scenario, dur, reason in notes]
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 2:
        print("usage: summarize.py OUT_DIR", file=sys.stderr)
        return 2
    out_dir = argv[1]
    rows = load(os.path.join(out_dir, "results.jsonl"))
    machine_path = os.path.join(out_dir, "machine.json")
    machine = json.load(open(machine_path)) if os.path.exists(machine_path) else {}
    summary, notes = summarise(rows)
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump({"machine": machine, "summary": summary,
                   "not_measured": [dict(zip(("status", "peer", "scenario", "durability", "reason"), n))
                                    for n in notes]}, f, indent=2, sort_keys=True)
    text = markdown(summary, notes, machine)
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write(text)
    print(text)
    return 0 if summary else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

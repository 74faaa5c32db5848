#!/usr/bin/env python3
"""Herald/peer ratios from a bench/peers/run.sh output dir (stdlib only).

Usage: ratios.py OUT_DIR   (reads OUT_DIR/summary.json written by summarize.py, whose figures are
medians over rounds; writes OUT_DIR/ratios.md and prints it). A throughput ratio > 1 means Herald is
faster; a latency ratio < 1 means Herald's latency is lower. Latencies of different peers measure
different things (see each row's latency_kind in results.jsonl), so the latency ratios are only
like for like where the kinds match (Kafka's EndToEndLatency and Herald's e2e are both a
produce -> consume round trip with one record in flight; Kafka reports whole milliseconds).
"""
import json
import os
import sys


def ratio(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0:
        return a / b
    return None


def fmt(v):
    return "-" if v is None else f"{v:.2f}"


def rows(summary):
    by_key = {(e["scenario"], e["durability"], e["peer"]): e for e in summary}
    out = []
    for (scenario, durability, peer), herald in sorted(by_key.items()):
        if peer != "herald":
            continue
        for (s2, d2, other), e in sorted(by_key.items()):
            if s2 != scenario or d2 != durability or other == "herald":
                continue
            hl, pl = herald.get("latency_ms") or {}, e.get("latency_ms") or {}
            out.append({"scenario": scenario, "durability": durability, "peer": f"{other} {e.get('version')}",
                        "rounds": f"{herald['rounds']}/{e['rounds']}",
                        "records_per_s": ratio(herald.get("records_per_s"), e.get("records_per_s")),
                        "mb_per_s": ratio(herald.get("mb_per_s"), e.get("mb_per_s")),
                        "p50": ratio(hl.get("p50"), pl.get("p50")), "p99": ratio(hl.get("p99"), pl.get("p99")),
                        "avg": ratio(hl.get("avg"), pl.get("avg"))})
    return out


def main(argv):
    if len(argv) != 2:
        print("usage: ratios.py OUT_DIR", file=sys.stderr)
        return 2
    with open(os.path.join(argv[1], "summary.json")) as f:
        summary = json.load(f)["summary"]
    lines = ["# Herald / peer ratios (medians over rounds)", "",
             "Throughput ratio > 1: Herald faster. Latency ratio < 1: Herald lower (like for like only where "
             "the latency kinds match; see ratios.py).", "",
             "| scenario | durability | vs peer | rounds H/peer | records/s | MiB/s | lat avg | p50 | p99 |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows(summary):
        lines.append(f"| {r['scenario']} | {r['durability']} | {r['peer']} | {r['rounds']} | "
                     f"{fmt(r['records_per_s'])} | {fmt(r['mb_per_s'])} | {fmt(r['avg'])} | {fmt(r['p50'])} | "
                     f"{fmt(r['p99'])} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(argv[1], "ratios.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

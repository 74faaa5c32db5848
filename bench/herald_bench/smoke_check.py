#!/usr/bin/env python3
"""Smoke test of herald-bench (ctest label `bench`): runs every scenario for ~1 s at tiny scale
against a server herald-bench starts itself, then checks the JSON report is complete and sane:
every scenario present, every measurement ok, non-zero throughput and latency counts.
No performance thresholds: the machine is shared.

Usage: smoke_check.py --bench PATH --out DIR
"""
import argparse
import json
import os
import subprocess
import sys

SCENARIOS = ["P1", "P2", "L1", "C1", "F1", "M1", "S1"]


def check(report):
    problems = []
    for key in ("nproc", "memory", "loadavg_at_start", "loadavg_at_end"):
        if not report["machine"].get(key):
            problems.append(f"machine.{key} missing")
    for key in ("grpc", "protobuf", "herald_commit"):
        if not report["versions"].get(key):
            problems.append(f"versions.{key} missing")
    seen = {m["scenario"] for m in report["measurements"]}
    problems += [f"scenario {s} missing" for s in SCENARIOS if s not in seen]
    for m in report["measurements"]:
        label = f"{m['scenario']} '{m['name']}'"
        if not m["ok"]:
            problems.append(f"{label} failed: {m.get('error')}")
            continue
        figures = m["figures"]
        for rate in ("records_per_s", "delivered_mb_per_s", "gb_per_s", "streams_open", "ratio"):
            if rate in figures and not figures[rate] > 0:
                problems.append(f"{label}: {rate} = {figures[rate]}")
        if not any(k in figures for k in ("records_per_s", "ratio", "streams_open")):
            problems.append(f"{label}: no throughput figure")
        for kind, lat in m["latency_ms"].items():
            if lat["count"] <= 0 or not lat["p99"] >= lat["p50"] >= 0 or lat["max"] < lat["p99_9"]:
                problems.append(f"{label}: latency {kind} not sane: {lat}")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    json_path = os.path.join(args.out, "smoke.json")
    if os.path.exists(json_path):
        os.remove(json_path)
    cmd = [args.bench, "--scenarios", ",".join(SCENARIOS), "--scale", "0.01", "--duration_s", "1",
           "--warmup_s", "0.2", "--l1_rate", "2000", "--f1_subscribers", "1,2",
           "--m1_producers", "2,8", "--json", json_path,
           "--markdown", os.path.join(args.out, "smoke.md")]
    print("running:", " ".join(cmd), flush=True)
    rc = subprocess.run(cmd, timeout=540).returncode
    if not os.path.exists(json_path):
        print(f"FAIL: no JSON report (exit code {rc})")
        return 1
    with open(json_path) as f:
        report = json.load(f)
    problems = check(report)
    if rc != 0 and not problems:
        problems.append(f"herald-bench exited {rc}")
    print(open(os.path.join(args.out, "smoke.md")).read())
    for p in problems:
        print("FAIL:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

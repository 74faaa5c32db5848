#!/usr/bin/env python3
"""Turns the peers' benchmark tool output into one JSON object per measurement (stdlib only).

Usage: parse.py KIND [key=value ...] < tool_output
  KIND is kafka-producer-perf | kafka-e2e | kafka-consumer-perf | nats-bench | redis-benchmark | redis-xrange.
  Each key=value (and each one in $HERALD_BENCH_TAGS, space separated) is copied into the JSON object
  (numbers stay numbers) so the caller states the settings
  (peer, version, record_bytes, partitions, acks, durability, ...) next to the figures they produced.
Exits 1 with a message on stderr when the output holds no result: a failed run must never look like a zero.
"""
import csv
import io
import json
import os
import re
import sys

NUM = r"([0-9]+(?:\.[0-9]+)?)"


def kafka_producer_perf(text):
    # The last summary line of org.apache.kafka.tools.ProducerPerformance, e.g.
    # "100000 records sent, 45620.4 records/sec (4.35 MB/sec), 200.36 ms avg latency, 387.00 ms max latency,
    #  194 ms 50th, 356 ms 95th, 381 ms 99th, 386 ms 99.9th."
    pattern = (rf"{NUM} records sent, {NUM} records/sec \({NUM} MB/sec\), {NUM} ms avg latency, "
               rf"{NUM} ms max latency, {NUM} ms 50th, {NUM} ms 95th, {NUM} ms 99th, {NUM} ms 99.9th")
    matches = re.findall(pattern, text)
    if not matches:
        return None
    sent, rps, mbps, avg, mx, p50, p95, p99, p999 = (float(x) for x in matches[-1])
    return {
        "records": int(sent), "records_per_s": rps, "mb_per_s": mbps,
        # ProducerPerformance's MB is 1024*1024 bytes; keep the tool's figure and say so.
        "mb_unit": "MiB",
        "latency_ms": {"avg": avg, "p50": p50, "p95": p95, "p99": p99, "p99_9": p999, "max": mx},
        "latency_kind": "send() to ack, measured by the producer",
    }


def kafka_e2e(text):
    # org.apache.kafka.tools.EndToEndLatency ends with
    # "Avg latency: 1.2345 ms" and "Percentiles: 50th = 1, 99th = 3, 99.9th = 7" (ms, integers).
    avg = re.search(rf"Avg latency: {NUM} ms", text)
    pct = re.search(rf"Percentiles: 50th = {NUM}, 99th = {NUM}, 99\.9th = {NUM}", text)
    if not avg or not pct:
        return None
    return {
        "latency_ms": {"avg": float(avg.group(1)), "p50": float(pct.group(1)),
                       "p99": float(pct.group(2)), "p99_9": float(pct.group(3))},
        "latency_kind": "produce+consume round trip, one record in flight (closed loop), ms resolution",
    }


def kafka_consumer_perf(text):
    # org.apache.kafka.tools.ConsumerPerformance prints a CSV header and one row:
    # "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms,
    #  fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec". fetch.* excludes the group join, so it is the drain rate.
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for i, line in enumerate(lines[:-1]):
        if line.startswith("start.time"):
            row = dict(zip((h.strip() for h in line.split(",")), (v.strip() for v in lines[i + 1].split(","))))
            try:
                return {"records": int(row["data.consumed.in.nMsg"]),
                        "records_per_s": float(row["fetch.nMsg.sec"]), "mb_per_s": float(row["fetch.MB.sec"]),
                        "mb_unit": "MiB", "rebalance_ms": float(row["rebalance.time.ms"]),
                        "rate_kind": "fetch phase only (group join excluded)"}
            except (KeyError, ValueError):
                return None
    return None


def nats_bench(text):
    # natscli v0.2.x prints e.g. "Pub stats: 221,093 msgs/sec ~ 27.0 MiB/sec ~ 4.52us"
    # (and for several clients an aggregate line first). The first stats line is the aggregate.
    m = re.search(r"(Pub|Sub|NATS Pub/Sub) stats: ([0-9,]+) msgs/sec ~ ([0-9.]+) ([KMG]i?B)/sec"
                  r"(?: ~ ([0-9.]+)(ns|us|µs|ms|s))?", text)
    if not m:
        return None
    scale = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "KB": 1 / 1024, "MB": 1, "GB": 1024}[m.group(4)]
    out = {"records_per_s": float(m.group(2).replace(",", "")), "mb_per_s": float(m.group(3)) * scale,
           "mb_unit": "MiB"}
    if m.group(5):
        to_ms = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3}[m.group(6)]
        out["avg_time_per_msg_ms"] = float(m.group(5)) * to_ms
    return out


def redis_benchmark(text):
    # `redis-benchmark --csv` (Redis 7): header then one row per test:
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",
    # "max_latency_ms"
    lines = [ln for ln in text.splitlines() if ln.startswith('"')]
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    if not rows or "rps" not in rows[-1]:
        return None
    row = rows[-1]
    return {
        "records_per_s": float(row["rps"]),
        "latency_ms": {"avg": float(row["avg_latency_ms"]), "p50": float(row["p50_latency_ms"]),
                       "p95": float(row["p95_latency_ms"]), "p99": float(row["p99_latency_ms"]),
                       "max": float(row["max_latency_ms"])},
        "latency_kind": "per command, request written to reply read, including pipeline queueing",
    }


def redis_xrange(text):
    # redis.sh's reader prints "XRANGE_RESULT records=N seconds=S".
    m = re.search(rf"XRANGE_RESULT records=([0-9]+) seconds={NUM}", text)
    if not m or float(m.group(2)) <= 0:
        return None
    records = int(m.group(1))
    return {"records": records, "records_per_s": records / float(m.group(2)),
            "rate_kind": "one reader, XRANGE pages after the last id read, one round trip per page"}


PARSERS = {"kafka-producer-perf": kafka_producer_perf, "kafka-e2e": kafka_e2e,
           "kafka-consumer-perf": kafka_consumer_perf,
           "nats-bench": nats_bench, "redis-benchmark": redis_benchmark,
           "redis-xrange": redis_xrange}


def typed(value):
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def main(argv):
    if len(argv) < 2 or argv[1] not in PARSERS:
        print(f"usage: parse.py {{{'|'.join(PARSERS)}}} [key=value ...] < output", file=sys.stderr)
        return 2
    text = sys.stdin.read()
    result = PARSERS[argv[1]](text)
    if result is None:
        tail = "\n".join(text.splitlines()[-15:])
        print(f"parse.py {argv[1]}: no result found in tool output; last lines:\n{tail}", file=sys.stderr)
        return 1
    fields = {}
    # run.sh tags every measurement (round, scenario) through the environment, so the peer scripts need not.
    for kv in os.environ.get("HERALD_BENCH_TAGS", "").split() + argv[2:]:
        key, _, value = kv.partition("=")
        fields[key] = typed(value)
    fields.update(result)
    # Derive MB/s from records/s when the tool does not give it, so every peer reports the same unit.
    if "mb_per_s" not in fields and "record_bytes" in fields and "records_per_s" in fields:
        fields["mb_per_s"] = round(fields["records_per_s"] * fields["record_bytes"] / (1 << 20), 3)
        fields["mb_unit"] = "MiB"
    # A synchronous publish (one in flight) turns the rate into a mean round trip; no tool percentiles.
    if fields.get("publish_batch") == 1 and "latency_ms" not in fields and fields.get("records_per_s"):
        fields["latency_ms"] = {"avg": round(1000.0 / fields["records_per_s"], 4)}
        fields["latency_kind"] = "mean synchronous publish round trip (1 / rate); no percentiles from the tool"
    print(json.dumps(fields, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

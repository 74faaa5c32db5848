#!/usr/bin/env python3
"""Tests for parse.py and summarize.py on tool output captured from real runs on the dev machine.

Run: python3 -m unittest discover -s bench/peers -p '*_test.py'   (or pytest bench/peers)
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import parse  # noqa: E402
import summarize  # noqa: E402

KAFKA_PRODUCE = """\
147153 records sent, 29430.6 records/sec (2.81 MB/sec), 190.1 ms avg latency, 1390.0 ms max latency.
200000 records sent, 33101.621979 records/sec (3.16 MB/sec), 212.71 ms avg latency, 1984.00 ms max latency, \
206 ms 50th, 363 ms 95th, 558 ms 99th, 670 ms 99.9th.
"""
KAFKA_E2E = """\
0	12.345
1000	3.2
Avg latency: 8.1710 ms
Percentiles: 50th = 4, 99th = 53, 99.9th = 193
"""
KAFKA_CONSUME = """\
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, \
fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-11-24 17:35:14:165, 2026-11-24 17:35:20:522, 9.5367, 1.5002, 100000, 15730.6906, 3309, 3048, 3.1289, \
32808.3990
"""
NATS_PUB = """\
17:27:19 Starting JS publisher, publishing 100,000 messages

Pub stats: 44,949 msgs/sec ~ 4.29 MB/sec
"""
NATS_SYNC_PUB = "Pub stats: 6,115 msgs/sec ~ 597.19 KB/sec\n"
REDIS_CSV = (
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",'
    '"max_latency_ms"\n"XADD herald-bench * d xx","106553.20","0.951","0.296","0.583","3.807","11.063","11.367"\n')


def run_parse(kind, text, *fields):
    return subprocess.run([sys.executable, os.path.join(HERE, "parse.py"), kind, *fields], input=text,
                          capture_output=True, text=True, env={**os.environ, "HERALD_BENCH_TAGS": ""})


class ParseTest(unittest.TestCase):
    def test_kafka_producer_perf_takes_final_summary_not_interim_line(self):
        r = parse.kafka_producer_perf(KAFKA_PRODUCE)
        self.assertEqual(r["records"], 200000)
        self.assertAlmostEqual(r["records_per_s"], 33101.621979)
        self.assertEqual(r["latency_ms"]["p99_9"], 670.0)
        self.assertEqual(r["latency_ms"]["max"], 1984.0)

    def test_kafka_e2e_reads_average_and_percentiles(self):
        r = parse.kafka_e2e(KAFKA_E2E)
        self.assertEqual(r["latency_ms"], {"avg": 8.171, "p50": 4.0, "p99": 53.0, "p99_9": 193.0})

    def test_kafka_consumer_perf_reports_fetch_phase_rate(self):
        r = parse.kafka_consumer_perf(KAFKA_CONSUME)
        self.assertEqual(r["records"], 100000)
        self.assertAlmostEqual(r["records_per_s"], 32808.399)
        self.assertEqual(r["rebalance_ms"], 3309.0)

    def test_nats_bench_strips_thousands_separators_and_scales_kb(self):
        self.assertEqual(parse.nats_bench(NATS_PUB)["records_per_s"], 44949.0)
        self.assertAlmostEqual(parse.nats_bench(NATS_SYNC_PUB)["mb_per_s"], 597.19 / 1024)

    def test_redis_benchmark_csv(self):
        r = parse.redis_benchmark(REDIS_CSV)
        self.assertAlmostEqual(r["records_per_s"], 106553.2)
        self.assertEqual(r["latency_ms"]["p99"], 11.063)

    def test_output_without_result_exits_nonzero_instead_of_reporting_zero(self):
        for kind in parse.PARSERS:
            p = run_parse(kind, "Exception in thread main: connection refused\n")
            self.assertEqual(p.returncode, 1, kind)
            self.assertEqual(p.stdout, "", kind)

    def test_fields_are_typed_and_sync_publish_gets_mean_latency(self):
        p = run_parse("nats-bench", NATS_SYNC_PUB, "peer=nats", "publish_batch=1", "record_bytes=100")
        self.assertEqual(p.returncode, 0, p.stderr)
        r = json.loads(p.stdout)
        self.assertEqual(r["publish_batch"], 1)
        self.assertEqual(r["peer"], "nats")
        self.assertAlmostEqual(r["latency_ms"]["avg"], 1000.0 / 6115, places=3)

    def test_mb_per_s_derived_from_record_bytes_when_tool_gives_none(self):
        p = run_parse("redis-benchmark", REDIS_CSV, "record_bytes=1024")
        self.assertAlmostEqual(json.loads(p.stdout)["mb_per_s"], 106553.2 * 1024 / 2**20, places=2)


class SummarizeTest(unittest.TestCase):
    def test_median_over_rounds_and_unavailable_settings_listed(self):
        rows = [{"peer": "kafka", "scenario": "P1", "durability": "default", "records_per_s": v,
                 "latency_ms": {"p99": v / 1000}} for v in (100.0, 300.0, 200.0)]
        rows.append({"status": "unavailable", "peer": "nats", "scenario": "all", "durability": "fsync",
                     "reason": "needs 2.10"})
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "results.jsonl"), "w") as f:
                f.write("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
            with open(os.devnull, "w") as null:
                saved, sys.stdout = sys.stdout, null
                try:
                    self.assertEqual(summarize.main(["summarize.py", d]), 0)
                finally:
                    sys.stdout = saved
            result = json.load(open(os.path.join(d, "summary.json")))
        entry = result["summary"][0]
        self.assertEqual(entry["records_per_s"], 200.0)
        self.assertEqual(entry["rounds"], 3)
        self.assertEqual(entry["latency_ms"]["p99"], 0.2)
        self.assertEqual(result["not_measured"][0]["reason"], "needs 2.10")


if __name__ == "__main__":
    unittest.main()

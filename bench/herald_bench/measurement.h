#pragma once
// The result of one benchmark measurement, as written to JSON and Markdown:
// settings (strings) and figures (numbers) side by side, so a figure is
// never separated from what produced it.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bench/herald_bench/histogram.h"

namespace herald::bench {

struct LatencySummary {
  std::string kind;  // what the latency spans, e.g. "intended send -> consumer receive"
  uint64_t count = 0;
  double mean_ms = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double p99_9_ms = 0;
  double max_ms = 0;
};

LatencySummary Summarize(const LatencyHistogram& h, std::string kind);

struct Measurement {
  std::string scenario;  // P1, P2, L1, C1, F1, M1, S1
  std::string name;      // e.g. "1 partition x 100 B, acks=LEADER"
  std::map<std::string, std::string> settings;
  std::map<std::string, double> figures;  // records_per_s, mb_per_s, ...
  std::vector<std::pair<std::string, LatencySummary>> latencies;
  bool ok = true;
  std::string error;  // set when !ok: a failed measurement never reads as a zero
};

// Monotonic clock in nanoseconds (steady_clock): all latencies are taken
// inside one process, so send and receive stamps share this clock.
int64_t NowNs();

}  // namespace herald::bench

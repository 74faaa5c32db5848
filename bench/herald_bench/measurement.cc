#include "bench/herald_bench/measurement.h"

#include <chrono>

namespace herald::bench {

LatencySummary Summarize(const LatencyHistogram& h, std::string kind) {
  constexpr double kNsPerMs = 1e6;
  LatencySummary s;
  s.kind = std::move(kind);
  s.count = h.Count();
  s.mean_ms = h.Mean() / kNsPerMs;
  s.p50_ms = h.Percentile(0.50) / kNsPerMs;
  s.p99_ms = h.Percentile(0.99) / kNsPerMs;
  s.p99_9_ms = h.Percentile(0.999) / kNsPerMs;
  s.max_ms = h.Max() / kNsPerMs;
  return s;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace herald::bench

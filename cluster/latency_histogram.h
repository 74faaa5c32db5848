#pragma once
// LatencyHistogram: fixed buckets, lock-free observations, snapshots for
// metrics (storage::LatencyHistogramSnapshot). Observe may run on any
// thread; a snapshot taken concurrently may miss the newest observation in
// some fields (count, sum, buckets are read one by one), which scrapes
// tolerate.
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "storage/log_store.h"

namespace herald::cluster {

class LatencyHistogram {
 public:
  // Upper bounds in seconds, ascending (default: 100 us .. 10 s, as the
  // edge's latency histograms).
  LatencyHistogram();
  explicit LatencyHistogram(std::vector<double> bounds_seconds);

  void Observe(double seconds);
  storage::LatencyHistogramSnapshot Snapshot() const;

 private:
  const std::vector<double> bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace herald::cluster

#pragma once
// LatencyHistogram: a small HDR-style log-linear histogram of nanosecond
// values. Each power of two is split into 32 linear sub-buckets, so any
// recorded value is reported within ~3% (1/32) of its true value, from 1 ns
// to ~2^62 ns, in a fixed 16 KiB table (no allocation while recording).
//
// Thread-safe: Record() is a relaxed atomic increment, so producer callbacks
// and consumer threads can record into one histogram concurrently. Reading
// (Percentile, Count, Max) while recording gives an approximate snapshot.
#include <array>
#include <atomic>
#include <cstdint>

namespace herald::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 5;  // 32 sub-buckets: <= 1/32 relative error
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  static constexpr int kBuckets = 64 * kSubBuckets;

  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  // Negative values (a clock step) are recorded as 0.
  void Record(int64_t value_ns);
  // Adds every count of `other` into this one.
  void Merge(const LatencyHistogram& other);
  void Reset();

  uint64_t Count() const;
  int64_t Max() const { return max_ns_.load(std::memory_order_relaxed); }
  double Mean() const;
  // The smallest recorded value v (reported as its bucket's upper bound,
  // clamped to Max) such that at least `quantile` of the values are <= v.
  // 0 when empty. quantile in [0, 1].
  int64_t Percentile(double quantile) const;

  // Exposed for tests: bucket index and the largest value of a bucket.
  static int BucketOf(int64_t value_ns);
  static int64_t BucketUpperBound(int bucket);

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<int64_t> max_ns_{0};
  std::atomic<int64_t> sum_ns_{0};
};

}  // namespace herald::bench

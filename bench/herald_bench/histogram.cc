#include "bench/herald_bench/histogram.h"

#include <algorithm>
#include <cmath>

namespace herald::bench {

// Values below kSubBuckets map 1:1 to the first buckets. Above, a value with
// its highest set bit at position e (>= kSubBucketBits) lands in group
// e - kSubBucketBits + 1, sub-bucket = the kSubBucketBits bits below the top.
int LatencyHistogram::BucketOf(int64_t value_ns) {
  if (value_ns < kSubBuckets) return static_cast<int>(std::max<int64_t>(value_ns, 0));
  const int top_bit = 63 - __builtin_clzll(static_cast<uint64_t>(value_ns));
  const int shift = top_bit - kSubBucketBits;
  const int group = shift + 1;
  const int sub = static_cast<int>((value_ns >> shift) & (kSubBuckets - 1));
  return std::min(group * kSubBuckets + sub, kBuckets - 1);
}

int64_t LatencyHistogram::BucketUpperBound(int bucket) {
  const int group = bucket / kSubBuckets;
  const int sub = bucket % kSubBuckets;
  if (group == 0) return sub;
  const int shift = group - 1;
  // Lowest value of the bucket is (kSubBuckets + sub) << shift.
  return ((static_cast<int64_t>(kSubBuckets + sub + 1)) << shift) - 1;
}

void LatencyHistogram::Record(int64_t value_ns) {
  value_ns = std::max<int64_t>(value_ns, 0);
  counts_[BucketOf(value_ns)].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(value_ns, std::memory_order_relaxed);
  int64_t seen = max_ns_.load(std::memory_order_relaxed);
  while (value_ns > seen &&
         !max_ns_.compare_exchange_weak(seen, value_ns, std::memory_order_relaxed)) {
  }
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) {
    counts_[i].fetch_add(other.counts_[i].load(std::memory_order_relaxed),
                         std::memory_order_relaxed);
  }
  sum_ns_.fetch_add(other.sum_ns_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  const int64_t other_max = other.Max();
  int64_t seen = max_ns_.load(std::memory_order_relaxed);
  while (other_max > seen &&
         !max_ns_.compare_exchange_weak(seen, other_max, std::memory_order_relaxed)) {
  }
}

void LatencyHistogram::Reset() {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
  max_ns_.store(0, std::memory_order_relaxed);
  sum_ns_.store(0, std::memory_order_relaxed);
}

uint64_t LatencyHistogram::Count() const {
  uint64_t total = 0;
  for (const auto& c : counts_) total += c.load(std::memory_order_relaxed);
  return total;
}

double LatencyHistogram::Mean() const {
  const uint64_t n = Count();
  return n == 0 ? 0.0 : static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / n;
}

int64_t LatencyHistogram::Percentile(double quantile) const {
  const uint64_t total = Count();
  if (total == 0) return 0;
  quantile = std::clamp(quantile, 0.0, 1.0);
  // Rank of the wanted value, 1-based: ceil(q * n), at least 1.
  const uint64_t rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(quantile * static_cast<double>(total))));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i].load(std::memory_order_relaxed);
    if (seen >= rank) return std::min(BucketUpperBound(i), Max());
  }
  return Max();
}

}  // namespace herald::bench

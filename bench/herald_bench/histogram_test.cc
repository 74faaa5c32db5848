#include "bench/herald_bench/histogram.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace herald::bench {
namespace {

TEST(LatencyHistogram, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.Count(), 0u);
  EXPECT_EQ(h.Percentile(0.99), 0);
  EXPECT_EQ(h.Max(), 0);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int v = 0; v < 32; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(0.5), 15);
  EXPECT_EQ(h.Percentile(1.0), 31);
}

TEST(LatencyHistogram, EveryValueLandsInABucketThatContainsIt) {
  for (int64_t v : {33LL, 100LL, 1000LL, 4095LL, 123456789LL, 1LL << 40, (1LL << 50) + 17}) {
    const int b = LatencyHistogram::BucketOf(v);
    EXPECT_GE(LatencyHistogram::BucketUpperBound(b), v) << v;
    if (b > 0) {
      EXPECT_LT(LatencyHistogram::BucketUpperBound(b - 1), v) << v;
    }
  }
}

TEST(LatencyHistogram, PercentilesOfUniformValuesWithinThreePercent) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 100'000; ++v) h.Record(v * 1000);  // 1 us .. 100 ms
  const auto near = [](int64_t got, double want) {
    EXPECT_NEAR(static_cast<double>(got), want, want * 0.035);
  };
  near(h.Percentile(0.5), 50'000'000.0);
  near(h.Percentile(0.99), 99'000'000.0);
  near(h.Percentile(0.999), 99'900'000.0);
  EXPECT_EQ(h.Percentile(1.0), 100'000'000);
  EXPECT_EQ(h.Max(), 100'000'000);
  EXPECT_NEAR(h.Mean(), 50'000'500.0, 1.0);
}

TEST(LatencyHistogram, TailIsNotHiddenByManyFastValues) {
  LatencyHistogram h;
  for (int i = 0; i < 9990; ++i) h.Record(50'000);
  for (int i = 0; i < 10; ++i) h.Record(20'000'000);
  EXPECT_LT(h.Percentile(0.99), 60'000);
  EXPECT_GE(h.Percentile(0.9995), 19'000'000);
}

TEST(LatencyHistogram, ConcurrentRecordsAreAllCountedAndMergeAdds) {
  LatencyHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 10'000; ++i) h.Record(1000 * (t + 1));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.Count(), 40'000u);
  LatencyHistogram other;
  other.Record(7'000'000);
  h.Merge(other);
  EXPECT_EQ(h.Count(), 40'001u);
  EXPECT_EQ(h.Max(), 7'000'000);
  h.Reset();
  EXPECT_EQ(h.Count(), 0u);
}

}  // namespace
}  // namespace herald::bench

#include "src/partitioner.h"

#include <set>
#include <string>

#include "common/murmur2.h"
#include "gtest/gtest.h"

namespace herald::client::internal {
namespace {

TEST(Partitioner, KeyedRecordsUseKafkaMurmur2) {
  Partitioner partitioner(1);
  for (int i = 0; i < 200; ++i) {
    const std::string key = "key-" + std::to_string(i);
    EXPECT_EQ(partitioner.Choose("t", key, 16), PartitionForKey(key, 16));
  }
  // Kafka: murmur2("21") = -973932308; positive part modulo 16.
  EXPECT_EQ(partitioner.Choose("t", "21", 16), (-973932308 & 0x7fffffff) % 16);
}

TEST(Partitioner, KeylessRecordsStickUntilTheBatchIsSealed) {
  Partitioner partitioner(7);
  const int32_t first = partitioner.Choose("t", "", 8);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(partitioner.Choose("t", "", 8), first);
  partitioner.OnBatchSealed("t", first, 8);
  EXPECT_NE(partitioner.Choose("t", "", 8), first);
}

TEST(Partitioner, KeylessRecordsSpreadOverManyBatches) {
  Partitioner partitioner(3);
  std::set<int32_t> used;
  for (int i = 0; i < 100; ++i) {
    const int32_t p = partitioner.Choose("t", "", 4);
    used.insert(p);
    partitioner.OnBatchSealed("t", p, 4);
  }
  EXPECT_EQ(used.size(), 4u);
}

TEST(Partitioner, SealingAnotherPartitionKeepsTheStickyOne) {
  Partitioner partitioner(5);
  const int32_t sticky = partitioner.Choose("t", "", 8);
  partitioner.OnBatchSealed("t", (sticky + 1) % 8, 8);
  EXPECT_EQ(partitioner.Choose("t", "", 8), sticky);
}

TEST(Partitioner, ShrunkPartitionCountMovesTheStickyPartitionInRange) {
  Partitioner partitioner(11);
  for (int i = 0; i < 20; ++i) {
    const int32_t p = partitioner.Choose("t", "", 100);
    partitioner.OnBatchSealed("t", p, 100);
  }
  EXPECT_LT(partitioner.Choose("t", "", 2), 2);
}

}  // namespace
}  // namespace herald::client::internal

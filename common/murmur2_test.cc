#include "common/murmur2.h"

#include "gtest/gtest.h"

namespace herald {
namespace {

// Expected values from Kafka's own Utils.murmur2 test vectors.
TEST(Murmur2, MatchesKafkaTestVectors) {
  EXPECT_EQ(Murmur2("21"), -973932308);
  EXPECT_EQ(Murmur2("foobar"), -790332482);
  EXPECT_EQ(Murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(Murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(Murmur2("abc"), 479470107);
  EXPECT_EQ(Murmur2("1"), -1993445489);
  EXPECT_EQ(Murmur2("12345"), -1188365604);
}

TEST(Murmur2, PartitionIsPositiveModuloLikeKafka) {
  // toPositive(-973932308) = -973932308 & 0x7fffffff = 1173551340; % 16 = 12.
  EXPECT_EQ(PartitionForKey("21", 16), 1173551340 % 16);
  for (int n = 1; n < 50; ++n) {
    const int32_t p = PartitionForKey("some-key", n);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, n);
  }
}

}  // namespace
}  // namespace herald

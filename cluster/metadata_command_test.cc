#include "cluster/metadata_command.h"

#include <gtest/gtest.h>

namespace herald::cluster {
namespace {

TEST(MetadataCommandTest, RoundTripsWritesAndDeletes) {
  std::vector<storage::MetadataWrite> writes = {
      {"topic/orders", std::string("id=1;partitions=3")},
      {"offset/2:g1/0000000000000001/0000000000", std::nullopt},
      {"broker/next_topic_id", std::string("")},
      {"coord/group/g", std::string("\0\xff", 2)}};
  auto decoded = DecodeMetadataEntry(EncodeMetadataProposal(writes, 1234));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), writes.size());
  for (size_t i = 0; i < writes.size(); ++i) {
    EXPECT_EQ((*decoded)[i].key, writes[i].key);
    EXPECT_EQ((*decoded)[i].value, writes[i].value);
  }
}

TEST(MetadataCommandTest, CorruptEntriesAreDataLossNotCrashes) {
  const std::string good = EncodeMetadataProposal({{"topic/a", std::string("v")}}, 1);
  for (size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_FALSE(DecodeMetadataEntry(good.substr(0, cut)).ok()) << cut;
  }
  std::string flipped = good;
  flipped.back() ^= 1;
  EXPECT_EQ(DecodeMetadataEntry(flipped).status().code(), absl::StatusCode::kDataLoss);
}

TEST(MetadataCommandTest, OnlySharedKeysAreReplicated) {
  for (const char* key : {"topic/x", "broker/next_topic_id", "offset/1:g/x/y", "coord/group/g"}) {
    EXPECT_TRUE(IsReplicatedMetadataKey(key)) << key;
  }
  for (const char* key : {"broker/cluster_id", "producer/next_id_block", "coord/incarnation",
                          "raft/1/0/hard_state", "cluster/metadata_applied"}) {
    EXPECT_FALSE(IsReplicatedMetadataKey(key)) << key;
  }
}

}  // namespace
}  // namespace herald::cluster

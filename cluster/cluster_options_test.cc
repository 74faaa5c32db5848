#include "cluster/cluster_options.h"

#include <gtest/gtest.h>

namespace herald::cluster {
namespace {

TEST(ParsePeersTest, ParsesIdsAndBothAddresses) {
  auto nodes = ParsePeers("1=a:7420/a:7422, 2=10.0.0.2:1/10.0.0.2:2,3=[::1]:5/[::1]:6");
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 3u);
  EXPECT_EQ(nodes->at(1).client, "a:7420");
  EXPECT_EQ(nodes->at(1).raft, "a:7422");
  EXPECT_EQ(nodes->at(2).raft, "10.0.0.2:2");
  EXPECT_EQ(nodes->at(3).client, "[::1]:5");
}

TEST(ParsePeersTest, RejectsMalformedEntriesNamingThem) {
  for (const char* bad : {"", "1=a:1", "x=a:1/a:2", "0=a:1/a:2", "1=a:1/a:2,1=b:1/b:2", "1=a/a:2",
                          "1=a:1/a:99999", "1:a:1/a:2"}) {
    auto nodes = ParsePeers(bad);
    EXPECT_EQ(nodes.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(ParsePeers("1=a:1/a:2,7=b/b:2").status().message().find("7=b/b:2"), std::string::npos);
}

TEST(ValidateClusterOptionsTest, NodeMustBeAMember) {
  ClusterOptions options;
  options.nodes = *ParsePeers("1=a:1/a:2,2=b:1/b:2");
  options.node_id = 3;
  EXPECT_EQ(ValidateClusterOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options.node_id = 2;
  EXPECT_TRUE(ValidateClusterOptions(options).ok());
  options.election_ticks = 1;
  EXPECT_FALSE(ValidateClusterOptions(options).ok());
}

}  // namespace
}  // namespace herald::cluster

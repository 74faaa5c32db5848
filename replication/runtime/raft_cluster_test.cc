// Three nodes in one process, each with its own gRPC transport server on
// 127.0.0.1, running three Raft groups (label: integration).
#include <gtest/gtest.h>

#include <cstdio>

#include "replication/runtime/raft_host.h"
#include "replication/runtime/test_cluster.h"

namespace herald::replication {
namespace {

using std::chrono::milliseconds;
using testing::Clock;
using testing::ClusterOptions;
using testing::TestCluster;

constexpr milliseconds kWait{10'000};
const std::vector<GroupId> kGroups = {1, 2, 3};

ClusterOptions GrpcCluster() {
  ClusterOptions options;
  options.grpc = true;
  options.groups = kGroups;
  return options;
}

// Proposes `count` values per group on the current leaders, concurrently
// within a group; returns false if any fails for good.
bool ProposeBatch(TestCluster& cluster, const std::string& prefix, int count) {
  for (GroupId g : kGroups) {
    NodeId leader = cluster.WaitForLeader(g, kWait);
    if (leader == kNoNode) return false;
    std::vector<std::future<absl::StatusOr<uint64_t>>> results;
    for (int i = 0; i < count; ++i) {
      results.push_back(cluster.host(leader).Propose(g, absl::StrCat(prefix, g, "-", i)));
    }
    for (auto& r : results) {
      absl::StatusOr<uint64_t> index = r.get();
      if (!index.ok()) {
        ADD_FAILURE() << "group " << g << ": " << index.status();
        return false;
      }
    }
  }
  return true;
}

void ExpectSameAppliedEverywhere(TestCluster& cluster, size_t count) {
  for (GroupId g : kGroups) {
    ASSERT_TRUE(cluster.WaitForApplied(g, count, kWait)) << "group " << g;
    std::vector<std::string> reference;
    for (NodeId id : cluster.ids()) {
      if (!cluster.live(id)) continue;
      std::vector<std::string> applied = cluster.Applied(id, g);
      EXPECT_EQ(applied.size(), count) << "group " << g << " node " << id;
      if (reference.empty()) reference = applied;
      EXPECT_EQ(applied, reference) << "group " << g << " node " << id;
    }
  }
}

TEST(RaftGrpcCluster, ElectsCommitsFailsOverAndCatchesUp) {
  TestCluster cluster(GrpcCluster());
  Clock::time_point start = Clock::now();
  cluster.StartAll();
  for (GroupId g : kGroups) ASSERT_NE(cluster.WaitForLeader(g, kWait), kNoNode) << g;
  std::printf("initial leaders elected in %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<milliseconds>(Clock::now() - start).count()));

  ASSERT_TRUE(ProposeBatch(cluster, "a", 20));
  ExpectSameAppliedEverywhere(cluster, 20);

  // A follower refuses with the leader's id.
  const NodeId leader = cluster.WaitForLeader(1, kWait);
  const NodeId follower = leader % 3 + 1;
  absl::StatusOr<uint64_t> refused = cluster.host(follower).Propose(1, "nope").get();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_EQ(LeaderHint(refused.status()), leader);

  // Kill group 1's leader node (server, streams and runtime).
  start = Clock::now();
  cluster.StopNode(leader);
  for (GroupId g : kGroups) {
    NodeId next = cluster.WaitForLeader(g, kWait);
    ASSERT_NE(next, kNoNode) << g;
    EXPECT_NE(next, leader);
  }
  const auto failover_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  std::printf("failover after stopping node %lu: new leaders for all groups in %lld ms\n",
              static_cast<unsigned long>(leader), static_cast<long long>(failover_ms));
  EXPECT_LT(failover_ms, 5000);

  ASSERT_TRUE(ProposeBatch(cluster, "b", 10));
  ExpectSameAppliedEverywhere(cluster, 30);

  // Restart it with its storage: it replays its log and catches up on the rest.
  start = Clock::now();
  cluster.StartNode(leader);
  ExpectSameAppliedEverywhere(cluster, 30);
  std::printf("restarted node %lu caught up in %lld ms\n", static_cast<unsigned long>(leader),
              static_cast<long long>(
                  std::chrono::duration_cast<milliseconds>(Clock::now() - start).count()));
  ASSERT_TRUE(ProposeBatch(cluster, "c", 10));
  ExpectSameAppliedEverywhere(cluster, 40);
  for (NodeId id : cluster.ids()) {
    EXPECT_EQ(cluster.host(id).stats().inbound_invalid, 0u);
    EXPECT_EQ(cluster.grpc(id)->inbound_stats().malformed_msgs, 0u);
  }
}

TEST(RaftGrpcCluster, HeartbeatsOfAllGroupsShareRequests) {
  ClusterOptions options = GrpcCluster();
  options.groups = {1, 2, 3, 4, 5, 6, 7, 8};
  TestCluster cluster(options);
  cluster.StartAll();
  for (GroupId g : options.groups) ASSERT_NE(cluster.WaitForLeader(g, kWait), kNoNode);
  std::this_thread::sleep_for(milliseconds(500));  // idle: heartbeats only
  uint64_t msgs = 0;
  uint64_t batches = 0;
  for (NodeId from : cluster.ids()) {
    for (NodeId to : cluster.ids()) {
      if (from == to) continue;
      PeerSenderStats s = cluster.grpc(from)->peer_stats(to);
      msgs += s.sent_msgs;
      batches += s.sent_batches;
    }
  }
  std::printf("8 groups, 3 nodes: %lu messages in %lu requests (%.1f per request)\n",
              static_cast<unsigned long>(msgs), static_cast<unsigned long>(batches),
              static_cast<double>(msgs) / static_cast<double>(batches));
  EXPECT_GT(msgs, 2 * batches);  // one tick's messages to a peer travel together
}

}  // namespace
}  // namespace herald::replication

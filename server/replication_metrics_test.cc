// The cluster-mode metric families from raw replication numbers (no broker,
// no sockets): names, labels, the histogram and the under-replicated count.
#include "server/replication_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "prometheus/text_serializer.h"

namespace herald::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Render(const std::optional<storage::ReplicationStats>& stats,
                   const std::vector<broker::Broker::PartitionReplicaGauge>& partitions) {
  std::vector<prometheus::MetricFamily> families;
  AddReplicationFamilies(stats, partitions, &families);
  return prometheus::TextSerializer().Serialize(families);
}

broker::Broker::PartitionReplicaGauge Partition(int32_t p, storage::ReplicaState r) {
  return {"orders", p, std::move(r)};
}

TEST(ReplicationMetrics, SingleNodeExportsNothing) { EXPECT_EQ(Render(std::nullopt, {}), ""); }

TEST(ReplicationMetrics, NodeCountersPeersAndHistogram) {
  storage::ReplicationStats s;
  s.node_id = 2;
  s.controller = true;
  s.leader_changes = 7;
  s.elections_started = 3;
  s.late_ticks = 4;
  s.max_persist_us = 1'500;
  s.peers = {{1, 10, 2, 1, 0}, {3, 11, 0, 5, 6}};
  s.commit_latency.bounds_seconds = {0.001, 0.01};
  s.commit_latency.counts = {2, 1, 1};
  s.commit_latency.count = 4;
  s.commit_latency.sum_seconds = 0.5;
  const std::string text = Render(s, {});
  EXPECT_THAT(text, HasSubstr("herald_controller 1\n"));
  EXPECT_THAT(text, HasSubstr("herald_raft_leader_changes_total 7\n"));
  EXPECT_THAT(text, HasSubstr("herald_raft_elections_started_total 3\n"));
  EXPECT_THAT(text, HasSubstr("herald_raft_late_ticks_total 4\n"));
  EXPECT_THAT(text, HasSubstr("herald_raft_max_persist_seconds 0.0015\n"));
  EXPECT_THAT(text, HasSubstr("herald_raft_peer_sent_batches_total{peer=\"3\"} 11\n"));
  EXPECT_THAT(text, HasSubstr("herald_raft_peer_dropped_messages_total{peer=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("herald_raft_peer_stream_failures_total{peer=\"3\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("herald_raft_peer_queued_messages{peer=\"3\"} 6\n"));
  // Buckets are cumulative, +Inf holds everything.
  EXPECT_THAT(text, HasSubstr("herald_raft_commit_latency_seconds_bucket{le=\"0.001\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("herald_raft_commit_latency_seconds_bucket{le=\"0.01\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("herald_raft_commit_latency_seconds_bucket{le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("herald_raft_commit_latency_seconds_count 4\n"));
  EXPECT_THAT(text, HasSubstr("herald_under_replicated_partitions 0\n"));
}

TEST(ReplicationMetrics, LeaderReportsLagAndUnderReplicatedPartitions) {
  storage::ReplicationStats s;
  s.node_id = 1;
  storage::ReplicaState healthy;  // led here, all in sync
  healthy.leader = 1;
  healthy.replicas = {1, 2, 3};
  healthy.in_sync_replicas = {1, 2, 3};
  healthy.replica_lag_entries = {{1, 0}, {2, 0}, {3, 0}};
  storage::ReplicaState behind = healthy;  // led here, node 3 is down
  behind.in_sync_replicas = {1, 2};
  behind.replica_lag_entries = {{1, 0}, {2, 0}, {3, 42}};
  storage::ReplicaState elsewhere;  // a follower here: no lag known
  elsewhere.leader = 2;
  elsewhere.replicas = {1, 2, 3};
  const std::string text =
      Render(s, {Partition(0, healthy), Partition(1, behind), Partition(2, elsewhere)});
  EXPECT_THAT(text, HasSubstr("herald_partition_leader{partition=\"2\",topic=\"orders\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("herald_partition_leader{partition=\"0\",topic=\"orders\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("herald_partition_replica_lag_entries{partition=\"1\",replica=\"3\","
                              "topic=\"orders\"} 42\n"));
  EXPECT_THAT(text, Not(HasSubstr("herald_partition_replica_lag_entries{partition=\"2\"")));
  EXPECT_THAT(text, HasSubstr("herald_partition_in_sync_replicas{partition=\"1\",topic=\"orders\"} "
                              "2\n"));
  EXPECT_THAT(text, HasSubstr("herald_under_replicated_partitions 1\n"));
  EXPECT_THAT(text, HasSubstr("herald_controller 0\n"));
}

}  // namespace
}  // namespace herald::server

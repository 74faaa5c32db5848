// ReplicatedLogStore's metrics numbers (GetReplicationStats, the replica
// lag in Replica) on three in-process nodes over gRPC: they move when a
// leader stops and while a node is down.
#include <gtest/gtest.h>

#include <iostream>
#include <numeric>

#include "cluster/test_stores.h"

namespace herald::cluster {
namespace {

using std::chrono::milliseconds;
using testing::Clock;
using testing::Eventually;
using testing::TestStores;

constexpr milliseconds kWait{10'000};
constexpr storage::PartitionKey kKey{1, 0};
constexpr storage::PartitionKey kIdle{1, 1};  // never written

int64_t LagOf(const storage::ReplicaState& r, int32_t replica) {
  for (const auto& [id, entries] : r.replica_lag_entries) {
    if (id == replica) return entries;
  }
  return -1;
}

uint64_t SumElections(TestStores& c, int except) {
  uint64_t sum = 0;
  for (int id : c.live_ids()) {
    if (id != except) sum += c.store(id).GetReplicationStats()->elections_started;
  }
  return sum;
}

TEST(ReplicationStats, CountersAndGaugesMoveWhenTheLeaderStopsAndReturns) {
  TestStores c(3);
  ASSERT_TRUE(c.OpenAll().ok());
  ASSERT_TRUE(c.CreateEverywhere(kKey).ok());
  ASSERT_TRUE(c.CreateEverywhere(kIdle).ok());
  const int leader = c.WaitForLeader(kKey, kWait);
  ASSERT_GT(leader, 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.AppendOnLeader(kKey, absl::StrCat("a", i), kWait).ok());

  // Healthy: the leader reports every replica in sync with no lag.
  ASSERT_TRUE(Eventually(
      [&] {
        auto r = c.store(leader).Replica(kKey);
        return r->in_sync_replicas.size() == 3 && r->replica_lag_entries.size() == 3 &&
               LagOf(*r, 1) == 0 && LagOf(*r, 2) == 0 && LagOf(*r, 3) == 0;
      },
      kWait));
  EXPECT_TRUE(c.store(leader % 3 + 1).Replica(kKey)->replica_lag_entries.empty());  // follower

  auto stats = c.store(leader).GetReplicationStats();
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->node_id, leader);
  EXPECT_GE(stats->leader_changes, 1u);
  EXPECT_GE(stats->commit_latency.count, 5u);
  EXPECT_GT(stats->commit_latency.sum_seconds, 0);
  EXPECT_EQ(stats->commit_latency.counts.size(), stats->commit_latency.bounds_seconds.size() + 1);
  EXPECT_EQ(std::accumulate(stats->commit_latency.counts.begin(),
                            stats->commit_latency.counts.end(), uint64_t{0}),
            stats->commit_latency.count);
  ASSERT_EQ(stats->peers.size(), 2u);
  for (const auto& p : stats->peers) EXPECT_GT(p.sent_batches, 0u) << p.node;
  // Exactly one controller.
  const int controller = c.WaitForController(kWait);
  ASSERT_GT(controller, 0);
  for (int id : c.live_ids()) {
    EXPECT_EQ(c.store(id).GetReplicationStats()->controller, id == controller) << id;
  }

  // The leader stops: the survivors elect another and count the change.
  const int watcher = leader % 3 + 1;
  const uint64_t changes_before = c.store(watcher).GetReplicationStats()->leader_changes;
  const uint64_t elections_before = SumElections(c, leader);  // the survivors'
  const auto stopped = Clock::now();
  c.Stop(leader);
  const int next = c.WaitForLeader(kKey, kWait);
  std::cout << "[ measured ] leader stopped without a hand-off: a new leader accepts appends after "
            << std::chrono::duration<double, std::milli>(Clock::now() - stopped).count() << " ms\n";
  ASSERT_GT(next, 0);
  ASSERT_NE(next, leader);
  EXPECT_GT(c.store(watcher).GetReplicationStats()->leader_changes, changes_before);
  EXPECT_GT(SumElections(c, leader), elections_before);
  ASSERT_TRUE(c.AppendOnLeader(kKey, "while-down", kWait).ok());

  // Under-replicated while the old leader is down: it misses what the new
  // leader committed (its no-op, the append above).
  auto r = c.store(next).Replica(kKey);
  EXPECT_EQ(r->replicas.size(), 3u);
  EXPECT_EQ(r->in_sync_replicas.size(), 2u);
  EXPECT_GT(LagOf(*r, leader), 0);
  EXPECT_TRUE(Eventually(
      [&] {
        const auto now = c.store(next).GetReplicationStats();
        for (const auto& p : now->peers) {
          if (p.node == leader) return p.stream_failures > 0;
        }
        return false;
      },
      kWait));

  // An idle partition is under-replicated too (its dead follower's match is
  // current, but nothing was heard from it for an election timeout).
  const int idle_leader = c.WaitForLeader(kIdle, kWait);
  ASSERT_GT(idle_leader, 0);
  EXPECT_TRUE(Eventually(
      [&] {
        auto idle = c.store(idle_leader).Replica(kIdle);
        return idle->in_sync_replicas.size() == 2 && idle->leader == idle_leader;
      },
      kWait));

  // It comes back and catches up: in sync again.
  ASSERT_TRUE(c.Open(leader).ok());
  EXPECT_TRUE(Eventually(
      [&] {
        const int now = c.WaitForLeader(kKey, kWait);
        if (now < 0) return false;
        auto back = c.store(now).Replica(kKey);
        return back->in_sync_replicas.size() == 3 && LagOf(*back, leader) == 0;
      },
      kWait));
}

}  // namespace
}  // namespace herald::cluster

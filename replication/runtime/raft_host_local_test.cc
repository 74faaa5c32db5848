// RaftHost over an in-memory transport: the runtime's contracts without
// sockets (the gRPC cluster test is raft_cluster_test.cc).
#include <gtest/gtest.h>

#include "replication/runtime/raft_host.h"
#include "replication/runtime/test_cluster.h"

namespace herald::replication {
namespace {

using std::chrono::milliseconds;
using testing::ClusterOptions;
using testing::TestCluster;

constexpr milliseconds kWait{10'000};

TEST(RaftHostLocal, ElectsLeadersAndAppliesInTheSameOrderEverywhere) {
  TestCluster cluster(ClusterOptions{});
  cluster.StartAll();
  for (GroupId g : {1, 2, 3}) ASSERT_NE(cluster.WaitForLeader(g, kWait), kNoNode) << g;
  for (GroupId g : {1, 2, 3}) {
    NodeId leader = cluster.WaitForLeader(g, kWait);
    std::vector<std::future<absl::StatusOr<uint64_t>>> results;
    for (int i = 0; i < 20; ++i) {
      results.push_back(cluster.host(leader).Propose(g, absl::StrCat("g", g, "-", i)));
    }
    uint64_t last = 0;
    for (auto& r : results) {
      absl::StatusOr<uint64_t> index = r.get();
      ASSERT_TRUE(index.ok()) << index.status();
      EXPECT_GT(*index, last);  // commit order == proposal order from one client
      last = *index;
    }
  }
  for (GroupId g : {1, 2, 3}) {
    ASSERT_TRUE(cluster.WaitForApplied(g, 20, kWait));
    std::vector<std::string> expected;
    for (int i = 0; i < 20; ++i) expected.push_back(absl::StrCat("g", g, "-", i));
    for (NodeId id : cluster.ids()) EXPECT_EQ(cluster.Applied(id, g), expected) << id;
  }
}

TEST(RaftHostLocal, FollowerProposeFailsWithLeaderHint) {
  TestCluster cluster(ClusterOptions{});
  cluster.StartAll();
  NodeId leader = cluster.WaitForLeader(1, kWait);
  ASSERT_NE(leader, kNoNode);
  NodeId follower = leader == 1 ? 2 : 1;
  absl::StatusOr<uint64_t> result = cluster.host(follower).Propose(1, "x").get();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition) << result.status();
  EXPECT_EQ(LeaderHint(result.status()), leader);
}

TEST(RaftHostLocal, IsolatedLeaderFailsItsPendingProposalWhenItStepsDown) {
  TestCluster cluster(ClusterOptions{});
  cluster.StartAll();
  const NodeId old_leader = cluster.WaitForLeader(1, kWait);
  ASSERT_NE(old_leader, kNoNode);
  ASSERT_TRUE(cluster.ProposeOnLeader(1, "committed").ok());
  cluster.Isolate(old_leader);
  // Still leader for a while (until CheckQuorum), so the entry is appended
  // but can never reach a majority.
  auto stranded = cluster.host(old_leader).Propose(1, "stranded");
  absl::StatusOr<uint64_t> result = stranded.get();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  // Heal only once the majority side has its own leader: otherwise the old
  // leader's longer log could win it back and commit "stranded" after all.
  const NodeId a = old_leader % 3 + 1;
  const NodeId b = a % 3 + 1;
  const auto deadline = testing::Clock::now() + kWait;
  while (testing::Clock::now() < deadline) {
    GroupStatus sa = *cluster.host(a).GetGroupStatus(1);
    GroupStatus sb = *cluster.host(b).GetGroupStatus(1);
    if (sa.leader != kNoNode && sa.leader != old_leader && sa.leader == sb.leader) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  cluster.Heal(old_leader);
  ASSERT_TRUE(cluster.ProposeOnLeader(1, "after").ok());
  ASSERT_TRUE(cluster.WaitForApplied(1, 2, kWait));
  for (NodeId id : cluster.ids()) {
    EXPECT_EQ(cluster.Applied(id, 1), (std::vector<std::string>{"committed", "after"})) << id;
  }
}

TEST(RaftHostLocal, UnknownGroupIsNotFound) {
  TestCluster cluster(ClusterOptions{});
  cluster.StartAll();
  EXPECT_EQ(cluster.host(1).Propose(99, "x").get().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cluster.host(1).GetGroupStatus(99).status().code(), absl::StatusCode::kNotFound);
}

absl::Status RunWithStorage(RaftHost& host, GroupId group, RaftHost::StorageFn fn) {
  std::promise<absl::Status> done;
  host.WithStorage(group, std::move(fn), [&done](const absl::Status& s) { done.set_value(s); });
  return done.get_future().get();
}

TEST(RaftHostLocal, WithStorageCompactsAndALaggingFollowerGetsASnapshot) {
  TestCluster cluster(ClusterOptions{});
  cluster.StartAll();
  const NodeId leader = cluster.WaitForLeader(1, kWait);
  ASSERT_NE(leader, kNoNode);
  const NodeId lagging = leader == 3 ? 2 : 3;
  cluster.Isolate(lagging);
  uint64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<uint64_t> index = cluster.host(leader).Propose(1, absl::StrCat(i)).get();
    ASSERT_TRUE(index.ok()) << index.status();
    last = *index;
  }
  uint64_t seen_applied = 0;
  ASSERT_TRUE(RunWithStorage(cluster.host(leader), 1, [&](RaftStorage& storage, uint64_t applied) {
                seen_applied = applied;
                return storage.Compact(applied);
              }).ok());
  EXPECT_GE(seen_applied, last);
  EXPECT_EQ(RunWithStorage(cluster.host(leader), 99,
                           [](RaftStorage&, uint64_t) { return absl::OkStatus(); })
                .code(),
            absl::StatusCode::kNotFound);
  cluster.Heal(lagging);
  const auto deadline = testing::Clock::now() + kWait;
  while (testing::Clock::now() < deadline &&
         cluster.host(lagging).GetGroupStatus(1)->commit < last) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_GE(cluster.host(lagging).GetGroupStatus(1)->commit, last);
  // It got there through the snapshot: the compacted entries never reached it.
  EXPECT_TRUE(cluster.Applied(lagging, 1).empty());
}

TEST(RaftHostLocal, TransferLeadershipMovesTheLeader) {
  TestCluster cluster(ClusterOptions{});
  cluster.StartAll();
  NodeId leader = cluster.WaitForLeader(2, kWait);
  ASSERT_NE(leader, kNoNode);
  ASSERT_TRUE(cluster.ProposeOnLeader(2, "before").ok());
  const NodeId target = leader % 3 + 1;
  std::promise<absl::Status> started;
  cluster.host(leader).TransferLeadership(2, target, [&](absl::Status s) { started.set_value(s); });
  ASSERT_TRUE(started.get_future().get().ok());
  const auto deadline = testing::Clock::now() + kWait;
  while (cluster.WaitForLeader(2, kWait) != target && testing::Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(cluster.WaitForLeader(2, kWait), target);
  ASSERT_TRUE(cluster.ProposeOnLeader(2, "after").ok());
  ASSERT_TRUE(cluster.WaitForApplied(2, 2, kWait));
}

TEST(RaftHostLocal, SingleVoterGroupCommitsAlone) {
  ClusterOptions options;
  options.nodes = 1;
  TestCluster cluster(options);
  cluster.StartAll();
  ASSERT_EQ(cluster.WaitForLeader(1, kWait), 1u);  // a single voter elects itself
  ASSERT_TRUE(cluster.host(1).Propose(1, "solo").get().ok());
  ASSERT_TRUE(cluster.WaitForApplied(1, 1, kWait));
  cluster.StopNode(1);
}

// Storage that fails every write once told to: the group must stop with the
// error and fail its pending proposals, never retry or crash.
class FailingStorage final : public RaftStorage {
 public:
  const RaftLog& log() const override { return inner_.log(); }
  absl::Status Append(const std::vector<Entry>& entries) override {
    if (fail_) return absl::DataLossError("injected fsync failure");
    return inner_.Append(entries);
  }
  absl::Status SetHardState(const HardState& hs) override { return inner_.SetHardState(hs); }
  absl::Status ApplySnapshot(const SnapshotMeta& s) override { return inner_.ApplySnapshot(s); }
  std::atomic<bool> fail_{false};

 private:
  MemoryRaftStorage inner_;
};

TEST(RaftHostLocal, StorageFailureStopsTheGroupAndFailsProposals) {
  testing::LocalNetwork network;
  testing::LocalTransport transport(&network, 1);
  RaftHostOptions options;
  options.node_id = 1;
  options.tick_interval = milliseconds(10);
  RaftHost host(options, &transport, [](GroupId, const Entry&) {});
  auto storage = std::make_shared<FailingStorage>();
  ASSERT_TRUE(host.AddGroup(GroupOptions{7, {1}, storage, 0}).ok());
  network.Attach(1, &host);
  host.Start();
  const auto deadline = testing::Clock::now() + kWait;  // a single voter elects itself
  while (host.GetGroupStatus(7)->role != RaftRole::kLeader && testing::Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(host.Propose(7, "ok").get().ok());
  storage->fail_ = true;
  absl::StatusOr<uint64_t> failed = host.Propose(7, "lost").get();
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kDataLoss) << failed.status();
  // Published at the end of the loop iteration that ran the callback.
  while (host.GetGroupStatus(7)->status.ok() && testing::Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(host.GetGroupStatus(7)->status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(host.Propose(7, "after").get().status().code(), absl::StatusCode::kDataLoss);
  network.Detach(1);
  host.Stop();
}

TEST(RaftHostLocal, QueuesAreBoundedAndStopFailsWhatIsQueued) {
  testing::LocalNetwork network;
  testing::LocalTransport transport(&network, 1);
  RaftHostOptions options;
  options.node_id = 1;
  options.max_queued_tasks = 2;
  options.max_inbound_msgs = 3;
  RaftHost host(options, &transport, [](GroupId, const Entry&) {});
  ASSERT_TRUE(
      host.AddGroup(GroupOptions{1, {1, 2, 3}, std::make_shared<MemoryRaftStorage>(), 0}).ok());
  // Never started: tasks wait in the queue until Stop cancels them.
  auto first = host.Propose(1, "x");
  auto second = host.Propose(1, "y");
  EXPECT_EQ(host.Propose(1, "z").get().status().code(), absl::StatusCode::kResourceExhausted);
  GroupMessage m;
  m.group = 1;
  m.msg.type = MessageType::kHeartbeat;
  m.msg.from = 2;
  m.msg.to = 1;
  host.Deliver(2, {m, m, m, m, m});
  EXPECT_EQ(host.stats().inbound_dropped_full, 2u);
  host.Stop();
  EXPECT_EQ(first.get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second.get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(host.Propose(1, "after").get().status().code(), absl::StatusCode::kUnavailable);
}

TEST(RaftHostLocal, MalformedInboundMessageIsCountedNotFatal) {
  TestCluster cluster(ClusterOptions{});
  cluster.StartAll();
  NodeId leader = cluster.WaitForLeader(1, kWait);
  ASSERT_NE(leader, kNoNode);
  NodeId follower = leader == 1 ? 2 : 1;
  // An append whose entries are not dense: the core rejects it.
  GroupMessage bad;
  bad.group = 1;
  bad.msg.type = MessageType::kAppend;
  bad.msg.from = leader;
  bad.msg.to = follower;
  bad.msg.term = 1'000'000;
  bad.msg.entries = {Entry{1, 5, EntryType::kNormal, "a"}, Entry{1, 9, EntryType::kNormal, "b"}};
  GroupMessage unknown = bad;
  unknown.group = 42;
  cluster.host(follower).Deliver(leader, {bad, unknown});
  const auto deadline = testing::Clock::now() + kWait;
  while (cluster.host(follower).stats().inbound_invalid == 0 && testing::Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(cluster.host(follower).stats().inbound_invalid, 1u);
  EXPECT_EQ(cluster.host(follower).stats().inbound_unknown_group, 1u);
  EXPECT_TRUE(cluster.host(follower).GetGroupStatus(1)->status.ok());
  ASSERT_TRUE(cluster.ProposeOnLeader(1, "still works").ok());
}

// Storage whose appends take three ticks: the loop's timers slip, and the
// host says so.
class SlowStorage final : public RaftStorage {
 public:
  const RaftLog& log() const override { return inner_.log(); }
  absl::Status Append(const std::vector<Entry>& entries) override {
    std::this_thread::sleep_for(milliseconds(30));
    return inner_.Append(entries);
  }
  absl::Status SetHardState(const HardState& hs) override { return inner_.SetHardState(hs); }
  absl::Status ApplySnapshot(const SnapshotMeta& s) override { return inner_.ApplySnapshot(s); }

 private:
  MemoryRaftStorage inner_;
};

TEST(RaftHostLocal, SlowPersistenceShowsAsLateTicks) {
  testing::LocalNetwork network;
  testing::LocalTransport transport(&network, 1);
  RaftHostOptions options;
  options.node_id = 1;
  options.tick_interval = milliseconds(10);
  RaftHost host(options, &transport, [](GroupId, const Entry&) {});
  ASSERT_TRUE(host.AddGroup(GroupOptions{1, {1}, std::make_shared<SlowStorage>(), 0}).ok());
  network.Attach(1, &host);
  host.Start();
  const auto deadline = testing::Clock::now() + kWait;
  absl::StatusOr<uint64_t> index = absl::UnavailableError("not yet");
  while (!index.ok() && testing::Clock::now() < deadline) {
    index = host.Propose(1, "slow").get();
    if (!index.ok()) std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_TRUE(index.ok()) << index.status();
  RaftHostStats stats = host.stats();
  EXPECT_GE(stats.max_persist_us, 30'000u);
  EXPECT_GT(stats.late_ticks, 0u);
  network.Detach(1);
  host.Stop();
}

TEST(RaftHostLocal, GroupsCanBeAddedWhileRunning) {
  testing::LocalNetwork network;
  testing::LocalTransport transport(&network, 1);
  RaftHostOptions options;
  options.node_id = 1;
  options.tick_interval = milliseconds(10);
  testing::AppliedLog applied;
  RaftHost host(options, &transport, [&](GroupId g, const Entry& e) { applied.Add(g, e); });
  network.Attach(1, &host);
  host.Start();
  ASSERT_TRUE(host.AddGroup(GroupOptions{5, {1}, std::make_shared<MemoryRaftStorage>(), 0}).ok());
  EXPECT_TRUE(host.GetGroupStatus(5).ok());
  EXPECT_EQ(host.AddGroup(GroupOptions{5, {1}, std::make_shared<MemoryRaftStorage>(), 0}).code(),
            absl::StatusCode::kAlreadyExists);
  const auto deadline = testing::Clock::now() + kWait;
  absl::StatusOr<uint64_t> index = absl::UnavailableError("not yet");
  while (!index.ok() && testing::Clock::now() < deadline) {  // until it elected itself
    index = host.Propose(5, "late").get();
    if (!index.ok()) std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(applied.Get(5), std::vector<std::string>{"late"});
  network.Detach(1);
  host.Stop();
}

// The counters behind herald_raft_leader_changes_total and
// herald_raft_elections_started_total.
TEST(RaftHostLocal, StatsCountLeaderChangesAndElections) {
  TestCluster cluster(ClusterOptions{});
  cluster.StartAll();
  for (GroupId g : {1, 2, 3}) ASSERT_NE(cluster.WaitForLeader(g, kWait), kNoNode) << g;
  uint64_t elections = 0;
  for (NodeId id : cluster.ids()) {
    const RaftHostStats stats = cluster.host(id).stats();
    // Every node has seen each group's first leader (WaitForLeader: all agree).
    EXPECT_GE(stats.leader_changes, 3u) << id;
    elections += stats.elections_started;
  }
  EXPECT_GE(elections, 3u);  // somebody campaigned for each group

  const NodeId old_leader = cluster.WaitForLeader(1, kWait);
  const NodeId watcher = old_leader % 3 + 1;
  const RaftHostStats before = cluster.host(watcher).stats();
  uint64_t elections_before = 0;
  for (NodeId id : cluster.ids()) elections_before += cluster.host(id).stats().elections_started;
  cluster.Isolate(old_leader);
  const auto deadline = testing::Clock::now() + kWait;
  NodeId new_leader = kNoNode;
  while (testing::Clock::now() < deadline) {
    auto status = cluster.host(watcher).GetGroupStatus(1);
    if (status.ok() && status->leader != kNoNode && status->leader != old_leader) {
      new_leader = status->leader;
      break;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_NE(new_leader, kNoNode);
  EXPECT_GT(cluster.host(watcher).stats().leader_changes, before.leader_changes);
  // The new leader reports the cut-off node unreachable, the other one not.
  std::vector<NodeId> unreachable;
  while (testing::Clock::now() < deadline) {
    auto status = cluster.host(new_leader).GetGroupStatus(1);
    ASSERT_TRUE(status.ok());
    unreachable = status->unreachable;
    if (!unreachable.empty()) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(unreachable, std::vector<NodeId>{old_leader});
  uint64_t elections_after = 0;
  for (NodeId id : cluster.ids()) elections_after += cluster.host(id).stats().elections_started;
  EXPECT_GT(elections_after, elections_before);
  cluster.Heal(old_leader);
}

}  // namespace
}  // namespace herald::replication

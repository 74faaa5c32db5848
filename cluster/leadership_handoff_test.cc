// ReplicatedLogStore::TransferLeadershipAway (the SIGTERM hand-off) on three
// in-process nodes over gRPC: every group the node led moves within the
// timeout and writes keep working; the write gap is measured and printed.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <vector>

#include "cluster/test_stores.h"

namespace herald::cluster {
namespace {

using std::chrono::milliseconds;
using testing::Clock;
using testing::TestStores;

constexpr milliseconds kWait{10'000};
const std::vector<storage::PartitionKey> kKeys = {{1, 0}, {1, 1}, {1, 2}};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Appends to one partition in a loop on whichever node leads it, keeping
// the time of every acknowledged append.
class Writer {
 public:
  Writer(TestStores* c, storage::PartitionKey key) : c_(c), key_(key) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Writer() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // Longest time between consecutive acks within [from, to].
  Clock::duration MaxGap(Clock::time_point from, Clock::time_point to) const {
    std::lock_guard<std::mutex> lock(mu_);
    Clock::duration gap{0};
    Clock::time_point prev = from;
    for (Clock::time_point t : acks_) {
      if (t < from) continue;
      if (t > to) break;
      gap = std::max(gap, t - prev);
      prev = t;
    }
    return std::max(gap, to - prev);
  }
  size_t AcksAfter(Clock::time_point t) const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (Clock::time_point a : acks_) n += a > t ? 1 : 0;
    return n;
  }

 private:
  void Run() {
    int i = 0;
    while (!stop_.load()) {
      int leader = -1;
      for (int id : c_->live_ids()) {
        auto r = c_->store(id).Replica(key_);
        if (r.has_value() && r->local_is_leader) leader = id;
      }
      if (leader > 0) {
        auto result = storage::testing::AppendAndWait(
            c_->store(leader),
            storage::testing::MakeRequest(key_, {1'700'000'000'000}, absl::StrCat("w", i++)));
        if (result.ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          acks_.push_back(Clock::now());
          continue;
        }
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
  }

  TestStores* const c_;
  const storage::PartitionKey key_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Clock::time_point> acks_;
  std::thread thread_;
};

TEST(LeadershipHandOff, EveryGroupMovesAndWritesKeepGoing) {
  TestStores c(3);
  ASSERT_TRUE(c.OpenAll().ok());
  for (const auto& key : kKeys) ASSERT_TRUE(c.CreateEverywhere(key).ok());
  for (const auto& key : kKeys) ASSERT_GT(c.WaitForLeader(key, kWait), 0);
  ASSERT_GT(c.WaitForController(kWait), 0);
  // The node that leads the first partition steps down (it may lead more).
  const int leaving = c.WaitForLeader(kKeys[0], kWait);
  ASSERT_GT(leaving, 0);

  Writer writer(&c, kKeys[0]);
  std::this_thread::sleep_for(milliseconds(200));  // writes flowing
  const auto start = Clock::now();
  absl::Status handed = c.store(leaving).TransferLeadershipAway(absl::Seconds(5));
  const auto moved = Clock::now();
  ASSERT_TRUE(handed.ok()) << handed;
  // Nothing is led by it any more, as it sees it right away.
  for (const auto& key : kKeys) EXPECT_NE(c.store(leaving).Replica(key)->leader, leaving);
  EXPECT_NE(c.store(leaving).MetadataReplica()->leader, leaving);
  EXPECT_FALSE(c.store(leaving).GetReplicationStats()->controller);

  // Writes continue on the new leaders, and metadata writes from this node
  // are forwarded to the new controller.
  ASSERT_TRUE(testing::Eventually([&] { return writer.AcksAfter(moved) >= 5; }, kWait));
  for (const auto& key : kKeys) {
    ASSERT_TRUE(c.AppendOnLeader(key, "after", kWait).ok());
    EXPECT_NE(c.WaitForLeader(key, kWait), leaving);
  }
  ASSERT_TRUE(c.store(leaving).WriteMetadata({{"topic/after-handoff", std::string("1")}}).ok());
  const auto end = Clock::now();
  writer.Stop();

  const double gap_ms = Ms(writer.MaxGap(start - milliseconds(1), end));
  std::cout << "[ measured ] hand-off took " << Ms(moved - start)
            << " ms; longest gap between acknowledged appends across it: " << gap_ms << " ms\n";
  // Well under an election timeout plus recovery (200..400 ms elections here
  // would show as ~0.5 s or more without the hand-off).
  EXPECT_LT(gap_ms, 2'000);
}

TEST(LeadershipHandOff, GoesToTheReplicaThatIsUpWhenAnotherIsDown) {
  TestStores c(3);
  ASSERT_TRUE(c.OpenAll().ok());
  ASSERT_TRUE(c.CreateEverywhere(kKeys[0]).ok());
  const int leader = c.WaitForLeader(kKeys[0], kWait);
  ASSERT_GT(leader, 0);
  ASSERT_TRUE(c.AppendOnLeader(kKeys[0], "before", kWait).ok());
  const int down = leader % 3 + 1;
  const int up = down % 3 + 1;
  c.Stop(down);
  // Until the leader notices (an election timeout of silence), it may still
  // count `down` as a candidate; the hand-off must work either way, but the
  // point here is that a known-dead replica is never picked.
  ASSERT_TRUE(testing::Eventually(
      [&] { return c.store(leader).Replica(kKeys[0])->in_sync_replicas.size() == 2; }, kWait));
  const auto start = Clock::now();
  absl::Status handed = c.store(leader).TransferLeadershipAway(absl::Seconds(5));
  const double took_ms = Ms(Clock::now() - start);
  ASSERT_TRUE(handed.ok()) << handed;
  // Without the reachability check the first ask could go to `down` and
  // cost an election timeout plus a tick before the re-ask.
  EXPECT_LT(took_ms, 200);  // a wrong first pick costs >= 220 ms (re-ask)
  EXPECT_EQ(c.WaitForLeader(kKeys[0], kWait), up);
  ASSERT_TRUE(c.AppendOnLeader(kKeys[0], "after", kWait).ok());
}

TEST(LeadershipHandOff, ANodeThatLeadsNothingReturnsAtOnce) {
  TestStores c(3);
  ASSERT_TRUE(c.OpenAll().ok());
  ASSERT_TRUE(c.CreateEverywhere(kKeys[0]).ok());
  const int leader = c.WaitForLeader(kKeys[0], kWait);
  ASSERT_GT(leader, 0);
  const int controller = c.WaitForController(kWait);
  ASSERT_GT(controller, 0);
  int idle = -1;
  for (int id : c.live_ids()) {
    if (id != leader && id != controller) idle = id;
  }
  if (idle < 0) GTEST_SKIP() << "every node leads something";
  const auto start = Clock::now();
  EXPECT_TRUE(c.store(idle).TransferLeadershipAway(absl::Seconds(5)).ok());
  EXPECT_LT(Ms(Clock::now() - start), 100);
  EXPECT_EQ(c.WaitForLeader(kKeys[0], kWait), leader);
}

}  // namespace
}  // namespace herald::cluster

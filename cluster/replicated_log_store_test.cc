// ReplicatedLogStore end to end in one process: three nodes, each with its
// own RocksDB store in a temp dir and its own node-to-node port on
// 127.0.0.1. Checks the store contract the broker relies on in cluster
// mode: appends commit on the leader and are refused elsewhere with the
// leader's address; every replica reads the same bytes up to its commit
// point; replicated metadata written on any node reaches every node (and
// its listener); a stopped leader is replaced and a restarted node catches up.
#include "cluster/replicated_log_store.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/crc32c.h"
#include "storage/storage_test_util.h"

namespace herald::cluster {
namespace {

using Clock = std::chrono::steady_clock;
constexpr storage::PartitionKey kKey{5, 0};

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class RecordingListener final : public storage::ReplicationListener {
 public:
  void OnMetadataApplied(const std::vector<std::string>& keys) override {
    absl::MutexLock lock(&mu_);
    keys_.insert(keys_.end(), keys.begin(), keys.end());
  }
  void OnLeaderReady(storage::PartitionKey) override {}
  std::vector<std::string> keys() {
    absl::MutexLock lock(&mu_);
    return keys_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> keys_;
};

class ReplicatedLogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int id = 1; id <= 3; ++id) {
      nodes_[id] = {absl::StrCat("127.0.0.1:", FreePort()), absl::StrCat("127.0.0.1:", FreePort())};
    }
    for (int id = 1; id <= 3; ++id) Open(id);
  }
  void TearDown() override {
    for (auto& store : stores_) {
      if (store != nullptr) store->Close();
    }
  }

  void Open(int id) {
    ClusterOptions options;
    options.node_id = id;
    options.nodes = nodes_;
    options.tick_ms = 20;
    options.leader_balance_interval_ms = balance_interval_ms_;
    storage::RocksLogStoreOptions local;
    local.path = dirs_[id].path();
    auto inner = storage::OpenRocksLogStore(local);
    ASSERT_TRUE(inner.ok()) << inner.status();
    auto store = ReplicatedLogStore::Open(options, *std::move(inner));
    ASSERT_TRUE(store.ok()) << store.status();
    stores_[id] = *std::move(store);
    stores_[id]->SetReplicationListener(&listeners_[id]);
  }

  // The node whose store accepts appends for kKey (leader and ready).
  int WaitForLeader(int not_this = 0) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      for (int id = 1; id <= 3; ++id) {
        if (id == not_this || stores_[id] == nullptr) continue;
        auto r = stores_[id]->Replica(kKey);
        if (r.has_value() && r->local_is_leader) return id;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "no leader for the partition within 10 s";
    return 0;
  }

  absl::StatusOr<storage::AppendResult> Append(int id, const std::string& tag) {
    storage::AppendRequest req;
    req.partition = kKey;
    req.payload = storage::testing::MakePayload({1'700'000'000'000}, tag);
    req.header.record_count = 1;
    req.header.timestamp_type = TimestampType::kCreateTime;
    req.header.max_timestamp_ms = 1'700'000'000'000;
    req.header.payload_crc = Crc32c(req.payload);
    std::promise<absl::StatusOr<storage::AppendResult>> done;
    auto result = done.get_future();
    stores_[id]->Append(std::move(req), [&done](absl::StatusOr<storage::AppendResult> r) {
      done.set_value(std::move(r));
    });
    return result.get();
  }

  // Every batch of the partition, as stored, up to the node's commit point.
  std::vector<std::string> ReadAll(int id) {
    std::vector<std::string> out;
    storage::ReadOptions options;
    options.max_bytes = 1 << 30;
    auto read = stores_[id]->Read(kKey, options);
    EXPECT_TRUE(read.ok()) << read.status();
    if (!read.ok()) return out;
    for (auto& b : read->batches) out.push_back(b.stored);
    return out;
  }

  void WaitConverged(size_t batches) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      bool all = true;
      for (int id = 1; id <= 3; ++id) all = all && ReadAll(id).size() >= batches;
      if (all) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "replicas did not converge";
  }

  int64_t balance_interval_ms_ = 0;  // off: tests pick their leader
  std::map<int32_t, NodeAddresses> nodes_;
  storage::testing::TempDir dirs_[4];
  std::unique_ptr<ReplicatedLogStore> stores_[4];
  RecordingListener listeners_[4];
};

TEST_F(ReplicatedLogStoreTest, AppendsCommitOnTheLeaderAndEveryReplicaReadsTheSameBytes) {
  for (int id = 1; id <= 3; ++id) ASSERT_TRUE(stores_[id]->CreatePartition(kKey).ok());
  const int leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  std::vector<int64_t> offsets;
  for (int i = 0; i < 20; ++i) {
    auto r = Append(leader, absl::StrCat("r", i));
    ASSERT_TRUE(r.ok()) << r.status();
    offsets.push_back(r->base_offset);
  }
  for (size_t i = 1; i < offsets.size(); ++i) EXPECT_EQ(offsets[i], offsets[i - 1] + 1);
  const int follower = leader % 3 + 1;
  auto refused = Append(follower, "x");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_EQ(refused.status().GetPayload(storage::kLeaderAddressPayload).value_or(absl::Cord()),
            nodes_[leader].client);
  WaitConverged(21);  // the leader's no-op (a control batch) + 20
  const auto reference = ReadAll(leader);
  for (int id = 1; id <= 3; ++id) EXPECT_EQ(ReadAll(id), reference) << "node " << id;
  // Stats and high watermarks stop at the commit point.
  auto stats = stores_[follower]->Stats(kKey);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->log_end_offset, offsets.back() + 1);
  // Truncation belongs to Raft only.
  EXPECT_EQ(stores_[leader]->TruncateSuffix(kKey, 0).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ReplicatedLogStoreTest, ReplicatedMetadataWrittenAnywhereReachesEveryNode) {
  // Written on every node in turn (two of them forward to the leader).
  for (int id = 1; id <= 3; ++id) {
    ASSERT_TRUE(stores_[id]
                    ->WriteMetadata({{absl::StrCat("topic/t", id), std::string("v")},
                                     {"broker/next_topic_id", absl::StrCat(id + 1)}})
                    .ok());
    // Read-your-writes on the writing node.
    EXPECT_EQ(stores_[id]->GetMetadata(absl::StrCat("topic/t", id))->value_or(""), "v");
  }
  // Node-local keys stay local.
  ASSERT_TRUE(stores_[1]->WriteMetadata({{"producer/next_id_block", std::string("9")}}).ok());
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (int id = 1; id <= 3; ++id) {
    while (Clock::now() < deadline && !stores_[id]->GetMetadata("topic/t3")->has_value()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (int t = 1; t <= 3; ++t) {
      EXPECT_EQ(stores_[id]->GetMetadata(absl::StrCat("topic/t", t))->value_or(""), "v");
    }
    EXPECT_EQ(stores_[id]->GetMetadata("broker/next_topic_id")->value_or(""), "4");
    EXPECT_EQ(stores_[id]->GetMetadata("producer/next_id_block")->has_value(), id == 1);
    const auto keys = listeners_[id].keys();
    EXPECT_NE(std::find(keys.begin(), keys.end(), "topic/t2"), keys.end()) << "node " << id;
  }
  // A write mixing both kinds cannot be atomic: refused.
  EXPECT_EQ(stores_[2]
                ->WriteMetadata({{"topic/x", std::string("v")}, {"producer/y", std::string("1")}})
                .code(),
            absl::StatusCode::kInternal);
}

TEST_F(ReplicatedLogStoreTest, StoppedLeaderIsReplacedAndCatchesUpAfterRestart) {
  for (int id = 1; id <= 3; ++id) ASSERT_TRUE(stores_[id]->CreatePartition(kKey).ok());
  const int leader = WaitForLeader();
  ASSERT_NE(leader, 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Append(leader, absl::StrCat("a", i)).ok());
  stores_[leader]->Close();
  stores_[leader].reset();
  const auto stopped = Clock::now();
  const int next = WaitForLeader(leader);
  ASSERT_NE(next, 0);
  std::cout << "new leader ready "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopped).count()
            << " ms after the old one stopped\n";
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Append(next, absl::StrCat("b", i)).ok());
  Open(leader);       // the same data dir: restores its groups from disk
  WaitConverged(12);  // two no-ops + 10
  const auto reference = ReadAll(next);
  for (int id = 1; id <= 3; ++id) EXPECT_EQ(ReadAll(id), reference) << "node " << id;
}

class LeaderBalancingTest : public ReplicatedLogStoreTest {
 protected:
  void SetUp() override {
    balance_interval_ms_ = 100;
    ReplicatedLogStoreTest::SetUp();
  }
};

TEST_F(LeaderBalancingTest, EveryNodeEndsUpLeadingItsPreferredPartitions) {
  constexpr int kPartitions = 6;
  for (int id = 1; id <= 3; ++id) {
    for (int p = 0; p < kPartitions; ++p) {
      ASSERT_TRUE(stores_[id]->CreatePartition({5, p}).ok());
    }
  }
  // Preferred leader of {5, p}: voters[(5 + p) % 3] = node ((5 + p) % 3) + 1.
  auto balanced = [&] {
    for (int p = 0; p < kPartitions; ++p) {
      auto r = stores_[1]->Replica({5, p});
      if (!r.has_value() || r->leader != (5 + p) % 3 + 1) return false;
    }
    return true;
  };
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (!balanced() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(balanced()) << "leaders did not move to their preferred nodes";
}

}  // namespace
}  // namespace herald::cluster

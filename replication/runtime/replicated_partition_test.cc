// A replicated partition end to end: three nodes in one process, each with
// its own RocksDB LogStore in a temp dir, its own gRPC transport on
// 127.0.0.1 and a RaftHost whose groups (one per partition) are
// PartitionRaftStorages. Record batches are built the way the broker's
// Produce path builds them, proposed on each group's leader under load while
// a leader node stops and later restarts over the same RocksDB directory.
// Checked: every acknowledged proposal is on every node at the offset its
// commit reported, byte for byte, and the partitions are byte-identical up
// to the commit point. A second test brings a follower back through a
// snapshot after the leader compacted (retention through RaftHost).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/batch_format.h"
#include "common/crc32c.h"
#include "replication/runtime/grpc_transport.h"
#include "replication/runtime/partition_raft_storage.h"
#include "replication/runtime/raft_host.h"
#include "storage/log_store.h"
#include "storage/storage_test_util.h"

namespace herald::replication {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint64_t kTopic = 7;
constexpr milliseconds kWait{15'000};

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A proposal as the broker's Produce path would make it: the producer's
// RecordBatch payload validated, the header filled from its summary, the
// checksum computed, the append time set by the proposer (the leader).
std::string MakeProposal(GroupId group, int i) {
  const int records = 1 + i % 3;
  const std::string payload = storage::testing::MakePayload(
      std::vector<int64_t>(records, 1'700'000'000'000 + i), absl::StrCat("g", group, "-", i));
  absl::StatusOr<PayloadSummary> summary =
      ValidateRecordBatchPayload(payload, PayloadLimits{}, /*partition_count=*/0);
  EXPECT_TRUE(summary.ok()) << summary.status();
  BatchHeader h;
  h.timestamp_type = TimestampType::kCreateTime;
  h.max_timestamp_ms = summary.ok() ? summary->max_timestamp_ms : 0;
  h.record_count = summary.ok() ? summary->record_count : records;
  h.payload_crc = Crc32c(payload);
  h.append_time_ms = 1'800'000'000'000 + i;  // distinct per proposal, kept by replicas
  return PartitionRaftLog::ProposalData(h, payload);
}

// What a committed proposal's callback reported.
struct Acked {
  GroupId group = 0;
  uint64_t index = 0;
  int64_t offset = 0;  // base offset of its batch, from the leader's log at commit
  std::string data;
};

std::vector<storage::ReadBatch> ReadRange(storage::LogStore& store, storage::PartitionKey key,
                                          int64_t from, int64_t to) {
  storage::ReadOptions options;
  options.start_offset = from;
  options.max_offset = to;
  options.max_bytes = 1 << 30;
  absl::StatusOr<storage::ReadResult> read = store.Read(key, options);
  EXPECT_TRUE(read.ok()) << read.status();
  return read.ok() ? read->batches : std::vector<storage::ReadBatch>{};
}

class ReplicatedCluster {
 public:
  explicit ReplicatedCluster(int partitions) {
    for (int p = 0; p < partitions; ++p) {
      const storage::PartitionKey key{kTopic, p};
      absl::StatusOr<GroupId> group = PartitionGroupId(key);
      if (!group.ok()) std::abort();
      groups_.push_back(*group);
    }
    for (NodeId id = 1; id <= 3; ++id) ids_.push_back(id);
  }
  ~ReplicatedCluster() {
    for (NodeId id : ids_) Stop(id);
  }

  const std::vector<GroupId>& groups() const { return groups_; }

  void StartAll() {
    for (NodeId id : ids_) ASSERT_NO_FATAL_FAILURE(Create(id));
    for (NodeId id : ids_) ConnectAndStart(id);
  }
  // A restart over the node's RocksDB directory: store reopened,
  // PartitionRaftLogs read back, a fresh host and transport.
  void Restart(NodeId id) {
    ASSERT_NO_FATAL_FAILURE(Create(id));
    ConnectAndStart(id);
  }

  // Stops the node like a process exit: transport, host, then the store is
  // closed. Only the directory survives.
  void Stop(NodeId id) {
    std::unique_ptr<Node> node;
    {
      absl::MutexLock lock(&mu_);
      auto it = live_.find(id);
      if (it == live_.end()) return;
      node = std::move(it->second);
      live_.erase(it);
    }
    node->transport->Stop();
    node->host->Stop();
    node->host.reset();
    node->transport.reset();
    node->storages.clear();
    node->store->Close();
  }

  // Stops every host and transport but keeps the stores and logs open,
  // quiescent, for the checks (nothing else touches them any more).
  void QuiesceAll() {
    absl::MutexLock lock(&mu_);
    for (auto& [id, node] : live_) {
      node->transport->Stop();
      node->host->Stop();
    }
    quiesced_ = true;
  }

  // Only once quiesced (the logs belong to the loop threads before).
  PartitionRaftLog& log(NodeId id, GroupId group) {
    absl::MutexLock lock(&mu_);
    return live_.at(id)->storages.at(group)->partition_log();
  }
  storage::LogStore& store(NodeId id) {
    absl::MutexLock lock(&mu_);
    return *live_.at(id)->store;
  }

  absl::StatusOr<GroupStatus> Status(NodeId id, GroupId group) {
    absl::MutexLock lock(&mu_);
    auto it = live_.find(id);
    if (it == live_.end()) return absl::UnavailableError("node down");
    return it->second->host->GetGroupStatus(group);
  }

  // The live node that leads `group` in the highest term, or kNoNode.
  NodeId Leader(GroupId group) {
    absl::MutexLock lock(&mu_);
    NodeId leader = kNoNode;
    uint64_t term = 0;
    for (auto& [id, node] : live_) {
      absl::StatusOr<GroupStatus> s = node->host->GetGroupStatus(group);
      if (s.ok() && s->role == RaftRole::kLeader && s->term >= term) {
        leader = id;
        term = s->term;
      }
    }
    return leader;
  }
  NodeId WaitForLeader(GroupId group, milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (NodeId leader = Leader(group); leader != kNoNode) return leader;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return kNoNode;
  }

  // Proposes on `group`'s current leader until one attempt commits (or the
  // timeout). The commit callback runs on the leader's loop thread, which
  // owns its log: it maps the entry's index to its offset there.
  absl::StatusOr<Acked> Propose(GroupId group, const std::string& data,
                                milliseconds timeout = kWait) {
    const Clock::time_point deadline = Clock::now() + timeout;
    absl::Status last = absl::DeadlineExceededError("no leader");
    while (Clock::now() < deadline) {
      auto result = std::make_shared<std::promise<absl::StatusOr<Acked>>>();
      std::future<absl::StatusOr<Acked>> done = result->get_future();
      if (!ProposeOnLeader(group, data, result)) {
        std::this_thread::sleep_for(milliseconds(5));
        continue;
      }
      if (done.wait_for(milliseconds(3000)) != std::future_status::ready) continue;
      absl::StatusOr<Acked> acked = done.get();
      if (acked.ok()) return acked;
      last = acked.status();
      std::this_thread::sleep_for(milliseconds(5));
    }
    return last;
  }

  // Compacts `group` on node `id` through the host, between Readies, using
  // the partition's retention rules (capped at the applied index). Returns
  // the new snapshot index.
  absl::StatusOr<uint64_t> ApplyRetention(NodeId id, GroupId group,
                                          const storage::RetentionPolicy& policy) {
    std::promise<absl::Status> done;
    uint64_t snapshot = 0;
    {
      absl::MutexLock lock(&mu_);
      live_.at(id)->host->WithStorage(
          group,
          [&snapshot, &policy](RaftStorage& storage, uint64_t applied) {
            PartitionRaftLog& log = static_cast<PartitionRaftStorage&>(storage).partition_log();
            absl::Status s = storage.Compact(log.RetentionIndex(policy, /*now_ms=*/0, applied));
            snapshot = log.Snapshot().index;
            return s;
          },
          [&done](const absl::Status& s) { done.set_value(s); });
    }
    absl::Status s = done.get_future().get();
    if (!s.ok()) return s;
    return snapshot;
  }

 private:
  struct Node {
    std::unique_ptr<storage::LogStore> store;
    std::map<GroupId, std::shared_ptr<PartitionRaftStorage>> storages;
    std::unique_ptr<GrpcTransport> transport;
    std::unique_ptr<RaftHost> host;
  };

  void Create(NodeId id) {
    auto node = std::make_unique<Node>();
    storage::RocksLogStoreOptions so;
    so.path = dirs_[id].path();
    so.write_buffer_bytes = 8 << 20;
    so.block_cache_bytes = 8 << 20;
    absl::StatusOr<std::unique_ptr<storage::LogStore>> store = storage::OpenRocksLogStore(so);
    ASSERT_TRUE(store.ok()) << store.status();
    node->store = *std::move(store);
    GrpcTransportOptions t;
    t.node_id = id;
    t.listen_address = absl::StrCat("127.0.0.1:", ports_[id]);  // 0 the first time
    node->transport = std::make_unique<GrpcTransport>(t);
    RaftHostOptions h;
    h.node_id = id;
    h.tick_interval = milliseconds(20);
    h.raft.election_tick = 10;
    node->host = std::make_unique<RaftHost>(h, node->transport.get(),
                                            [](GroupId, const Entry&) {});  // no state machine
    for (GroupId g : groups_) {
      absl::StatusOr<std::shared_ptr<PartitionRaftStorage>> storage =
          PartitionRaftStorage::Open(node->store.get(), PartitionOfGroup(g));
      ASSERT_TRUE(storage.ok()) << storage.status();
      node->storages[g] = *storage;
      // The partition log is the state machine: nothing to replay.
      const uint64_t applied = (*storage)->log().InitialHardState().commit;
      ASSERT_TRUE(node->host->AddGroup(GroupOptions{g, ids_, *storage, applied}).ok());
    }
    ASSERT_TRUE(node->transport->Start().ok());
    ports_[id] = node->transport->port();
    absl::MutexLock lock(&mu_);
    live_[id] = std::move(node);
  }

  void ConnectAndStart(NodeId id) {
    absl::MutexLock lock(&mu_);
    Node& node = *live_.at(id);
    for (auto& [other, port] : ports_) {
      if (other == id || port == 0) continue;
      node.transport->SetPeer(other, absl::StrCat("127.0.0.1:", port));
      auto it = live_.find(other);
      if (it != live_.end())
        it->second->transport->SetPeer(id, absl::StrCat("127.0.0.1:", ports_[id]));
    }
    node.host->Start();
  }

  bool ProposeOnLeader(GroupId group, const std::string& data,
                       const std::shared_ptr<std::promise<absl::StatusOr<Acked>>>& result) {
    const NodeId leader = Leader(group);
    absl::MutexLock lock(&mu_);
    auto it = live_.find(leader);
    if (leader == kNoNode || it == live_.end() || quiesced_) return false;
    std::shared_ptr<PartitionRaftStorage> storage = it->second->storages.at(group);
    it->second->host->Propose(
        group, data, [group, data, storage, result](absl::StatusOr<uint64_t> index) {
          if (!index.ok()) return result->set_value(index.status());
          // Applied just now on this loop thread: entry index starts where
          // index - 1 ends.
          absl::StatusOr<int64_t> offset = storage->partition_log().EndOffset(*index - 1);
          if (!offset.ok()) return result->set_value(offset.status());
          result->set_value(Acked{group, *index, *offset, data});
        });
    return true;
  }

  std::vector<GroupId> groups_;
  std::vector<NodeId> ids_;
  std::map<NodeId, storage::testing::TempDir> dirs_;
  std::map<NodeId, int> ports_;
  absl::Mutex mu_;
  std::map<NodeId, std::unique_ptr<Node>> live_ ABSL_GUARDED_BY(mu_);
  bool quiesced_ ABSL_GUARDED_BY(mu_) = false;
};

// Waits until every node in `nodes` has committed and applied, in every
// group, at least the leader's commit index and at least `at_least[group]`
// (the last acked index: the leader publishes its commit index only after
// the proposal callbacks of the same loop iteration have run).
bool WaitForConvergence(ReplicatedCluster& c, const std::vector<NodeId>& nodes,
                        milliseconds timeout, std::map<GroupId, uint64_t> at_least = {}) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    bool all = true;
    for (GroupId g : c.groups()) {
      const NodeId leader = c.Leader(g);
      absl::StatusOr<GroupStatus> ls = c.Status(leader, g);
      if (!ls.ok()) {
        all = false;
        break;
      }
      const uint64_t target = std::max(ls->commit, at_least[g]);
      for (NodeId id : nodes) {
        absl::StatusOr<GroupStatus> s = c.Status(id, g);
        all = all && s.ok() && s->commit >= target && s->applied >= target;
      }
    }
    if (all) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return false;
}

std::map<GroupId, uint64_t> LastAcked(const std::vector<Acked>& acked) {
  std::map<GroupId, uint64_t> last;
  for (const Acked& a : acked) last[a.group] = std::max(last[a.group], a.index);
  return last;
}

// Every acknowledged proposal is on every node, at the offset its commit
// reported, with the proposed bytes; stored batches are identical on all
// nodes (headers included: term, base offset, append time).
void CheckAcked(ReplicatedCluster& c, const std::vector<Acked>& acked) {
  for (const Acked& a : acked) {
    const storage::PartitionKey key = PartitionOfGroup(a.group);
    std::string reference;
    for (NodeId id = 1; id <= 3; ++id) {
      SCOPED_TRACE(absl::StrCat("node ", id, " group ", a.group, " index ", a.index));
      PartitionRaftLog& log = c.log(id, a.group);
      ASSERT_GE(log.InitialHardState().commit, a.index);
      ASSERT_EQ(log.EndOffset(a.index - 1).value_or(-1), a.offset);
      absl::StatusOr<std::vector<Entry>> entries = log.Entries(a.index, a.index + 1, 1);
      ASSERT_TRUE(entries.ok()) << entries.status();
      ASSERT_EQ(entries->size(), 1u);
      EXPECT_EQ(entries->front().data, a.data);  // what was proposed, unchanged
      std::vector<storage::ReadBatch> batch = ReadRange(c.store(id), key, a.offset, a.offset + 1);
      ASSERT_EQ(batch.size(), 1u);
      EXPECT_EQ(batch[0].header.base_offset, a.offset);
      EXPECT_EQ(batch[0].header.leader_epoch, static_cast<int64_t>(entries->front().term));
      EXPECT_EQ(BatchPayload(batch[0].stored), BatchPayload(a.data));
      if (id == 1) reference = batch[0].stored;
      EXPECT_EQ(batch[0].stored, reference);
    }
  }
}

// All nodes' partitions hold the same bytes from `from` up to the end of the
// lowest commit index among them.
void CheckIdenticalUpToCommit(ReplicatedCluster& c, GroupId group, int64_t from) {
  SCOPED_TRACE(absl::StrCat("group ", group));
  uint64_t commit = UINT64_MAX;
  for (NodeId id = 1; id <= 3; ++id) {
    commit = std::min(commit, c.log(id, group).InitialHardState().commit);
  }
  const int64_t end = c.log(1, group).EndOffset(commit).value_or(-1);
  ASSERT_GT(end, from);
  const storage::PartitionKey key = PartitionOfGroup(group);
  const std::vector<storage::ReadBatch> reference = ReadRange(c.store(1), key, from, end);
  for (NodeId id = 2; id <= 3; ++id) {
    SCOPED_TRACE(absl::StrCat("node ", id));
    EXPECT_EQ(c.log(id, group).EndOffset(commit).value_or(-1), end);
    const std::vector<storage::ReadBatch> batches = ReadRange(c.store(id), key, from, end);
    ASSERT_EQ(batches.size(), reference.size());
    for (size_t i = 0; i < batches.size(); ++i) {
      ASSERT_EQ(batches[i].stored, reference[i].stored) << "batch " << i;
    }
  }
}

// Proposes on one group until told to stop, recording what was acked.
class Proposer {
 public:
  Proposer(ReplicatedCluster* c, GroupId group) : c_(c), group_(group) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Proposer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t acked_count() const {
    absl::MutexLock lock(&mu_);
    return acked_.size();
  }
  std::vector<Acked> acked() const {
    absl::MutexLock lock(&mu_);
    return acked_;
  }
  bool WaitForAcked(size_t n, milliseconds timeout) const {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (acked_count() >= n) return true;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return false;
  }

 private:
  void Run() {
    for (int i = 0; !stop_; ++i) {
      absl::StatusOr<Acked> a = c_->Propose(group_, MakeProposal(group_, i), milliseconds(1000));
      if (!a.ok()) continue;  // not acked: its fate is unknown, it is not checked
      absl::MutexLock lock(&mu_);
      acked_.push_back(*a);
    }
  }

  ReplicatedCluster* const c_;
  const GroupId group_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::vector<Acked> acked_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

TEST(ReplicatedPartition, AckedBatchesSurviveLeaderFailoverAndRestartByteForByte) {
  ReplicatedCluster c(4);
  const Clock::time_point start = Clock::now();
  ASSERT_NO_FATAL_FAILURE(c.StartAll());
  for (GroupId g : c.groups()) ASSERT_NE(c.WaitForLeader(g, kWait), kNoNode);
  std::cout << "leaders for 4 partitions after " << MsSince(start) << " ms\n";

  std::vector<std::unique_ptr<Proposer>> proposers;
  for (GroupId g : c.groups()) proposers.push_back(std::make_unique<Proposer>(&c, g));
  for (auto& p : proposers) ASSERT_TRUE(p->WaitForAcked(15, kWait));

  // Stop group 0's leader node mid-load.
  const GroupId g0 = c.groups()[0];
  const NodeId victim = c.Leader(g0);
  ASSERT_NE(victim, kNoNode);
  std::vector<GroupId> led;
  for (GroupId g : c.groups()) {
    if (c.Leader(g) == victim) led.push_back(g);
  }
  const Clock::time_point stopped = Clock::now();
  c.Stop(victim);
  std::vector<size_t> before;  // its pending proposals have failed by now
  before.reserve(proposers.size());
  for (auto& p : proposers) before.push_back(p->acked_count());
  NodeId new_leader = c.WaitForLeader(g0, kWait);
  ASSERT_NE(new_leader, kNoNode);
  ASSERT_NE(new_leader, victim);
  std::cout << "node " << victim << " (led " << led.size()
            << " of 4 groups) stopped: group 0 led by node " << new_leader << " after "
            << MsSince(stopped) << " ms";
  ASSERT_TRUE(proposers[0]->WaitForAcked(before[0] + 1, kWait));
  std::cout << ", first commit after " << MsSince(stopped) << " ms\n";
  for (size_t i = 0; i < proposers.size(); ++i) {
    ASSERT_TRUE(proposers[i]->WaitForAcked(before[i] + 15, kWait)) << "group " << i;
  }

  // Restart it over the same RocksDB directory and let it catch up.
  const Clock::time_point restarted = Clock::now();
  ASSERT_NO_FATAL_FAILURE(c.Restart(victim));
  ASSERT_TRUE(WaitForConvergence(c, {victim}, kWait));
  std::cout << "node " << victim << " restarted from disk and caught up in " << MsSince(restarted)
            << " ms\n";
  for (size_t i = 0; i < proposers.size(); ++i) before[i] = proposers[i]->acked_count();
  for (size_t i = 0; i < proposers.size(); ++i) {
    ASSERT_TRUE(proposers[i]->WaitForAcked(before[i] + 10, kWait)) << "group " << i;
  }
  std::vector<Acked> all_acked;
  for (auto& p : proposers) {
    p->Stop();
    const std::vector<Acked> acked = p->acked();
    all_acked.insert(all_acked.end(), acked.begin(), acked.end());
  }
  ASSERT_TRUE(WaitForConvergence(c, {1, 2, 3}, kWait, LastAcked(all_acked)));
  c.QuiesceAll();

  ASSERT_NO_FATAL_FAILURE(CheckAcked(c, all_acked));
  const size_t total = all_acked.size();
  for (GroupId g : c.groups()) ASSERT_NO_FATAL_FAILURE(CheckIdenticalUpToCommit(c, g, 0));
  std::cout << total << " acked batches checked on 3 nodes\n";
}

TEST(ReplicatedPartition, FollowerDownDuringCompactionCatchesUpThroughASnapshot) {
  ReplicatedCluster c(1);
  ASSERT_NO_FATAL_FAILURE(c.StartAll());
  const GroupId g = c.groups()[0];
  const storage::PartitionKey key = PartitionOfGroup(g);
  const NodeId leader = c.WaitForLeader(g, kWait);
  ASSERT_NE(leader, kNoNode);
  std::vector<Acked> acked;
  int next = 0;
  auto propose = [&](int n) {
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<Acked> a = c.Propose(g, MakeProposal(g, next++));
      ASSERT_TRUE(a.ok()) << a.status();
      acked.push_back(*a);
    }
  };
  ASSERT_NO_FATAL_FAILURE(propose(5));
  const NodeId lagging = leader == 3 ? 2 : 3;
  c.Stop(lagging);
  ASSERT_NO_FATAL_FAILURE(propose(20));
  // Retention by size through the host: keeps about the last 2 KB of
  // entries on both live nodes.
  storage::RetentionPolicy policy;
  policy.retention_bytes = 2048;
  uint64_t compacted = 0;
  for (NodeId id = 1; id <= 3; ++id) {
    if (id == lagging) continue;
    absl::StatusOr<uint64_t> snapshot = c.ApplyRetention(id, g, policy);
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    if (id == c.Leader(g)) compacted = *snapshot;
  }
  ASSERT_GT(compacted, acked[4].index);  // past everything the lagging node has

  const Clock::time_point restarted = Clock::now();
  ASSERT_NO_FATAL_FAILURE(c.Restart(lagging));
  ASSERT_NO_FATAL_FAILURE(propose(5));
  ASSERT_TRUE(WaitForConvergence(c, {1, 2, 3}, kWait, LastAcked(acked)));
  std::cout << "node " << lagging << " caught up through a snapshot in " << MsSince(restarted)
            << " ms\n";
  const NodeId final_leader = c.Leader(g);
  c.QuiesceAll();

  PartitionRaftLog& mine = c.log(lagging, g);
  PartitionRaftLog& theirs = c.log(final_leader, g);
  EXPECT_GE(mine.Snapshot().index, compacted);  // it installed a snapshot
  EXPECT_EQ(mine.NextOffset(), theirs.NextOffset());
  // The records it never received are padded with a filler control batch.
  const int64_t position = static_cast<int64_t>(mine.Snapshot().owner_position);
  bool padded = false;
  for (const storage::ReadBatch& b : ReadRange(c.store(lagging), key, 0, position)) {
    padded |= b.header.control && b.header.leader_epoch == 0;
  }
  EXPECT_TRUE(padded);
  // From the last snapshot position of the three on, their batches are the
  // same, and every acked entry past it is on all three nodes at its offset.
  uint64_t snapshot_index = 0;
  int64_t common_from = 0;
  for (NodeId id = 1; id <= 3; ++id) {
    snapshot_index = std::max(snapshot_index, c.log(id, g).Snapshot().index);
    common_from =
        std::max(common_from, static_cast<int64_t>(c.log(id, g).Snapshot().owner_position));
  }
  ASSERT_NO_FATAL_FAILURE(CheckIdenticalUpToCommit(c, g, common_from));
  std::vector<Acked> after;
  for (const Acked& a : acked) {
    if (a.index > snapshot_index) after.push_back(a);
  }
  ASSERT_FALSE(after.empty());
  ASSERT_NO_FATAL_FAILURE(CheckAcked(c, after));
  // The ones it kept from before its stop are still the proposed bytes.
  for (const Acked& a : acked) {
    if (a.index > mine.Snapshot().index) break;
    for (const storage::ReadBatch& b : ReadRange(c.store(lagging), key, a.offset, a.offset + 1)) {
      if (b.header.control) continue;  // a filler where it never got the entry
      EXPECT_EQ(b.header.base_offset, a.offset);
      EXPECT_EQ(BatchPayload(b.stored), BatchPayload(a.data));
    }
  }
}

}  // namespace
}  // namespace herald::replication

// Three Raft nodes whose logs are PartitionRaftLogs over in-memory
// LogStores: the partitions must end up byte-identical, a restarted node
// reads its state back, and a node that fell behind a compaction catches up
// through a (metadata-only) snapshot at the leader's offsets.
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/batch_format.h"
#include "gtest/gtest.h"
#include "replication/partition_raft_log.h"
#include "replication/raft.h"
#include "storage/storage_test_util.h"

namespace herald::replication {
namespace {

constexpr storage::PartitionKey kKey{3, 0};

struct Node {
  std::unique_ptr<storage::LogStore> store = storage::NewMemoryLogStore();
  std::unique_ptr<PartitionRaftLog> log;
  std::unique_ptr<Raft> raft;
  bool up = false;
};

class Cluster {
 public:
  Cluster() {
    for (NodeId id = 1; id <= 3; ++id) Start(id);
  }

  // A (re)start from the node's store: everything in memory is rebuilt.
  void Start(NodeId id) {
    Node& n = nodes_[id];
    n.raft.reset();
    auto log = PartitionRaftLog::Open(n.store.get(), kKey);
    ASSERT_TRUE(log.ok()) << log.status();
    n.log = *std::move(log);
    RaftConfig c;
    c.id = id;
    c.voters = {1, 2, 3};
    c.seed = id;
    c.applied = n.log->Snapshot().index;
    auto raft = Raft::Create(c, n.log.get());
    ASSERT_TRUE(raft.ok()) << raft.status();
    n.raft = *std::move(raft);
    n.up = true;
  }
  void Stop(NodeId id) { nodes_[id].up = false; }
  Node& node(NodeId id) { return nodes_[id]; }

  // One round: tick, handle every Ready, deliver every queued message.
  void Step() {
    for (auto& [id, n] : nodes_) {
      if (n.up) n.raft->Tick();
    }
    for (auto& [id, n] : nodes_) {
      if (n.up) HandleReadies(id, n);
    }
    std::deque<Message> inbox;
    inbox.swap(queue_);
    for (const Message& m : inbox) {
      Node& to = nodes_[m.to];
      if (to.up && nodes_[m.from].up) (void)to.raft->Step(m);
    }
  }

  NodeId Leader() {
    for (auto& [id, n] : nodes_) {
      if (n.up && n.raft->role() == RaftRole::kLeader) return id;
    }
    return kNoNode;
  }

  // Runs until `done` holds (false after max_steps).
  template <typename Pred>
  bool RunUntil(Pred done, int max_steps = 2000) {
    for (int i = 0; i < max_steps; ++i) {
      if (done()) return true;
      Step();
      if (::testing::Test::HasFatalFailure()) return false;
    }
    return done();
  }

  uint64_t applied(NodeId id) { return applied_[id]; }

 private:
  void HandleReadies(NodeId id, Node& n) {
    while (n.raft->HasReady()) {
      Ready rd = n.raft->GetReady();
      ASSERT_TRUE(n.log->Persist(rd).ok());
      for (Message& m : rd.messages) queue_.push_back(std::move(m));
      if (rd.snapshot) applied_[id] = rd.snapshot->index;  // before its entries
      for (const Entry& e : rd.committed_entries) {
        // Committed entries are the same everywhere, whether a node applies
        // them from the core's unstable copy or reads them from disk.
        auto [it, fresh] = committed_.emplace(e.index, e);
        if (!fresh) {
          ASSERT_EQ(it->second, e) << "node " << id << " index " << e.index;
        }
        applied_[id] = e.index;
      }
      n.raft->Advance(rd);
    }
  }

  std::map<NodeId, Node> nodes_;
  std::deque<Message> queue_;
  std::map<uint64_t, Entry> committed_;
  std::map<NodeId, uint64_t> applied_;
};

std::string Batch(int i) {
  BatchHeader h;
  h.record_count = 1 + i % 3;
  h.append_time_ms = 1000 + i;
  return PartitionRaftLog::ProposalData(
      h, storage::testing::MakePayload(std::vector<int64_t>(h.record_count, 0), absl::StrCat(i)));
}

std::vector<storage::ReadBatch> ReadAll(storage::LogStore& store, int64_t from) {
  storage::ReadOptions options;
  options.start_offset = from;
  options.max_bytes = 1 << 30;
  auto read = store.Read(kKey, options);
  EXPECT_TRUE(read.ok()) << read.status();
  return read.ok() ? read->batches : std::vector<storage::ReadBatch>{};
}

void ProposeAll(Cluster& c, int from, int to) {
  for (int i = from; i < to; ++i) {
    ASSERT_TRUE(c.RunUntil([&] { return c.Leader() != kNoNode; }));
    ASSERT_TRUE(c.node(c.Leader()).raft->Propose(Batch(i)).ok());
  }
}

TEST(PartitionRaftLogCluster, ReplicasStoreTheSameBytesAndCatchUpThroughASnapshot) {
  Cluster c;
  ProposeAll(c, 0, 20);
  const NodeId leader = c.Leader();
  const uint64_t last = c.node(leader).raft->log().LastIndex();
  ASSERT_TRUE(c.RunUntil([&] {
    for (NodeId id = 1; id <= 3; ++id) {
      if (c.applied(id) < last) return false;
    }
    return true;
  }));
  // Identical partitions: the leader's no-op is a control batch at offset 0.
  const auto reference = ReadAll(*c.node(1).store, 0);
  ASSERT_FALSE(reference.empty());
  EXPECT_TRUE(reference[0].header.control);
  for (NodeId id = 2; id <= 3; ++id) {
    const auto batches = ReadAll(*c.node(id).store, 0);
    ASSERT_EQ(batches.size(), reference.size());
    for (size_t i = 0; i < batches.size(); ++i) EXPECT_EQ(batches[i].stored, reference[i].stored);
  }

  // Node 3 stops; the others go on and the leader compacts what it applied.
  const NodeId lagging = leader == 3 ? 2 : 3;
  c.Stop(lagging);
  ProposeAll(c, 20, 40);
  const NodeId now_leader = c.Leader();
  Node& l = c.node(now_leader);
  ASSERT_TRUE(c.RunUntil([&] { return c.applied(now_leader) == l.raft->log().LastIndex(); }));
  ASSERT_TRUE(l.log->Compact(c.applied(now_leader)).ok());
  const SnapshotMeta snap = l.log->Snapshot();

  // It restarts from its store and is brought back by a snapshot.
  c.Start(lagging);
  ProposeAll(c, 40, 45);
  const uint64_t target = c.node(c.Leader()).raft->log().LastIndex();
  ASSERT_TRUE(c.RunUntil([&] { return c.applied(lagging) >= target; }))
      << "lagging " << lagging << " applied " << c.applied(lagging) << " target " << target
      << " last " << c.node(lagging).raft->log().LastIndex() << " status "
      << c.node(lagging).raft->status() << " log " << c.node(lagging).log->status() << " leader "
      << c.Leader() << " role " << RaftRoleName(c.node(lagging).raft->role());
  PartitionRaftLog& caught_up = *c.node(lagging).log;
  EXPECT_GE(caught_up.Snapshot().index, snap.index);  // it took a snapshot
  // ... and padded the records it missed with a filler control batch.
  bool padded = false;
  for (const auto& b : ReadAll(*c.node(lagging).store, 0)) {
    padded |= b.header.control && b.header.leader_epoch == 0;
  }
  EXPECT_TRUE(padded);
  EXPECT_EQ(caught_up.NextOffset(), c.node(c.Leader()).log->NextOffset());
  // From the snapshot position on, its batches are the leader's.
  const auto position = static_cast<int64_t>(caught_up.Snapshot().owner_position);
  const auto mine = ReadAll(*c.node(lagging).store, position);
  const auto theirs = ReadAll(*c.node(c.Leader()).store, position);
  ASSERT_EQ(mine.size(), theirs.size());
  for (size_t i = 0; i < mine.size(); ++i) EXPECT_EQ(mine[i].stored, theirs[i].stored);

  // A full restart reads every node's log back unchanged.
  for (NodeId id = 1; id <= 3; ++id) {
    const uint64_t before_last = c.node(id).log->LastIndex();
    const HardState before_hs = c.node(id).log->InitialHardState();
    c.Start(id);
    EXPECT_EQ(c.node(id).log->LastIndex(), before_last);
    EXPECT_EQ(c.node(id).log->InitialHardState(), before_hs);
  }
  ProposeAll(c, 45, 50);
  EXPECT_TRUE(c.RunUntil([&] { return c.applied(c.Leader()) >= target + 5; }));
}

}  // namespace
}  // namespace herald::replication

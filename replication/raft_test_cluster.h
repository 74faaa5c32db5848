#pragma once
// A tiny synchronous cluster for Raft unit tests: every node persists its
// Ready in full to a MemoryRaftLog, messages are delivered in FIFO order, and
// the test chooses who is cut off. For randomized faults see sim/.
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "replication/raft.h"

namespace herald::replication::testing {

class TestCluster {
 public:
  using Tweak = std::function<void(RaftConfig&)>;

  explicit TestCluster(int n, Tweak tweak = nullptr) : tweak_(std::move(tweak)) {
    for (int i = 1; i <= n; ++i) ids_.push_back(static_cast<NodeId>(i));
    for (NodeId id : ids_) bootstrap_[id] = ids_;
    for (NodeId id : ids_) Restart(id);
  }

  Raft& node(NodeId id) { return *nodes_.at(id); }
  MemoryRaftLog& disk(NodeId id) { return disks_[id]; }

  // Rebuilds a node from its disk, as after a crash (its Ready state is lost).
  void Restart(NodeId id) {
    RaftConfig c;
    c.id = id;
    c.voters = bootstrap_[id];
    c.seed = 7;
    if (tweak_) tweak_(c);
    auto raft = Raft::Create(c, &disks_[id]);
    ASSERT_TRUE(raft.ok()) << raft.status();
    nodes_[id] = std::move(*raft);
  }

  // A node joining later: empty disk, no bootstrap voters (it learns its
  // config from the leader).
  void AddNode(NodeId id) {
    ids_.push_back(id);
    bootstrap_[id] = {};
    Restart(id);
  }

  void Isolate(NodeId id) { isolated_.insert(id); }
  void Heal() { isolated_.clear(); }
  bool Linked(NodeId a, NodeId b) const { return !isolated_.count(a) && !isolated_.count(b); }

  // Persists a node's Ready, then queues its messages (until none is left).
  void Persist(NodeId id) {
    for (int i = 0; i < 10 && node(id).HasReady(); ++i) PersistOnce(id);
  }
  void PersistOnce(NodeId id) {
    Raft& r = node(id);
    Ready rd = r.GetReady();
    MemoryRaftLog& d = disks_[id];
    if (rd.snapshot) d.ApplySnapshot(*rd.snapshot);
    ASSERT_TRUE(d.Append(rd.entries).ok());
    if (rd.hard_state) d.SetHardState(*rd.hard_state);
    for (Message& m : rd.messages) Queue(std::move(m));
    for (const Entry& e : rd.committed_entries) applied_[id].push_back(e);
    r.Advance(rd);
  }

  void Queue(Message m) {
    if (!Linked(m.from, m.to) || (drop_ && drop_(m))) return;
    inflight_.push_back(std::move(m));
  }
  // Messages for which `drop` returns true are lost (nullptr: none).
  void SetDrop(std::function<bool(const Message&)> drop) { drop_ = std::move(drop); }
  const std::vector<Entry>& Applied(NodeId id) { return applied_[id]; }

  // Persists and delivers until nothing moves (bounded).
  void Process() {
    for (int round = 0; round < 10000; ++round) {
      for (NodeId id : ids_) Persist(id);
      if (inflight_.empty()) return;
      Message m = std::move(inflight_.front());
      inflight_.pop_front();
      if (!Linked(m.from, m.to)) continue;
      ++delivered_[m.type];
      if (std::getenv("RAFT_TRACE")) {
        std::cerr << MessageTypeName(m.type) << " " << m.from << "->" << m.to << " t" << m.term
                  << " i" << m.index << " lt" << m.log_term << " n" << m.entries.size() << " c"
                  << m.commit << (m.reject ? " reject" : "") << " hint" << m.reject_hint << "\n";
      }
      ASSERT_TRUE(node(m.to).Step(m).ok()) << node(m.to).status();
    }
    FAIL() << "cluster did not quiesce";
  }

  void Tick(NodeId id, int ticks = 1) {
    for (int i = 0; i < ticks; ++i) {
      node(id).Tick();
      Process();
    }
  }
  void TickAll(int ticks) {
    for (int i = 0; i < ticks; ++i) {
      for (NodeId id : ids_) node(id).Tick();
      Process();
    }
  }

  void Elect(NodeId id) {
    node(id).Campaign();
    Process();
  }

  std::vector<NodeId> Leaders() {
    std::vector<NodeId> out;
    for (NodeId id : ids_) {
      if (node(id).role() == RaftRole::kLeader) out.push_back(id);
    }
    return out;
  }

  // Data of the normal entries node `id` applied, in order.
  std::vector<std::string> AppliedData(NodeId id) {
    std::vector<std::string> out;
    for (const Entry& e : applied_[id]) {
      if (e.type == EntryType::kNormal) out.push_back(e.data);
    }
    return out;
  }

  std::map<MessageType, int>& delivered() { return delivered_; }
  std::deque<Message>& inflight() { return inflight_; }
  const std::vector<NodeId>& ids() const { return ids_; }

 private:
  Tweak tweak_;
  std::vector<NodeId> ids_;
  std::map<NodeId, std::vector<NodeId>> bootstrap_;
  std::map<NodeId, MemoryRaftLog> disks_;
  std::map<NodeId, std::unique_ptr<Raft>> nodes_;
  std::map<NodeId, std::vector<Entry>> applied_;
  std::set<NodeId> isolated_;
  std::function<bool(const Message&)> drop_;
  std::deque<Message> inflight_;
  std::map<MessageType, int> delivered_;
};

}  // namespace herald::replication::testing

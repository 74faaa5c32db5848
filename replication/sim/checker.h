#pragma once
// Checker: the safety invariants the simulator verifies after every step.
//
//   election safety     at most one leader per term (ever);
//   log matching        one (index, term) names exactly one entry, with one
//                       predecessor term, on every node at every time;
//   leader completeness a leader of term T holds every entry committed in a
//                       term < T;
//   stable commits      every (index, term, data) any node ever applied is
//                       the same everywhere, forever; a node applies densely;
//   durable acks        every entry acknowledged to a client is on the
//                       synced disk of a majority (see below), from the ack
//                       onwards;
//   commit rule         a leader's commit index only moves (while it stays
//                       leader in one term) to an entry of that term;
//   config chain        committed configs (kConfChange entries) form a
//                       chain: each differs from the one before by exactly
//                       one voter, and matches its own encoded change;
//   members only        a new leader's winning votes are all from voters of
//                       its config and a majority of it; whenever a leader's
//                       commit index moves, voters of its config holding that
//                       index (its match) form a majority of it: no vote or
//                       ack of a non-member counts.
// "Majority" in the durable-ack rule: the holders meet every majority of
// the latest committed config (see DurableOnMajority).
// The first violation is kept; later ones are ignored.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "replication/raft.h"
#include "replication/raft_log.h"

namespace herald::replication::sim {

// What the checker sees of one node after a step.
struct NodeView {
  NodeId id = kNoNode;
  uint64_t incarnation = 0;    // bumps on every restart
  const Raft* raft = nullptr;  // null while the node is down
  const MemoryRaftLog* durable = nullptr;
};

class Checker {
 public:
  // check_commit_rule=false drops the direct commit-rule check, so a test
  // can show its violation is also caught through its consequences.
  Checker(std::vector<NodeId> voters, bool check_commit_rule)
      : check_commit_rule_(check_commit_rule) {
    configs_.push_back({0, std::move(voters)});
  }

  // `node` (currently in `node_term`) applied a committed entry.
  void OnApplied(NodeId node, uint64_t node_term, const Entry& e);
  // The node restarted or installed a snapshot: it applies again from after
  // `snapshot_index`.
  void OnRestart(NodeId node, uint64_t snapshot_index);
  // A client got "committed" for entry e.
  void OnAck(const Entry& e, const std::vector<NodeView>& nodes);
  // The invariants over the whole cluster.
  void CheckStep(const std::vector<NodeView>& nodes);
  void Fail(std::string what);

  const absl::Status& status() const { return status_; }
  size_t committed_entries() const { return committed_.size(); }
  size_t acks() const { return acked_.size(); }
  // Committed config changes seen so far.
  size_t config_changes() const { return configs_.size() - 1; }

 private:
  struct Committed {
    uint64_t term = 0;
    std::string data;
    uint64_t commit_term = 0;  // upper bound on the term that committed it
  };
  struct Identity {
    std::string data;
    uint64_t prev_term = 0;
  };
  void CheckLogMatching(const NodeView& n);
  void CheckLeader(const NodeView& n);
  void OnCommittedConfig(const Entry& e);
  void CheckMembersOnly(const Raft& r, bool new_term, uint64_t last_commit);
  bool DurableOnMajority(const Entry& e, const std::vector<NodeView>& nodes) const;

  struct Config {
    uint64_t index = 0;
    std::vector<NodeId> voters;
  };
  bool check_commit_rule_;
  std::vector<Config> configs_;  // committed configs, by index; [0] = bootstrap
  absl::Status status_;
  std::map<uint64_t, NodeId> leader_of_term_;
  std::map<std::pair<uint64_t, uint64_t>, Identity> identity_;  // (index, term)
  std::map<uint64_t, Committed> committed_;                     // by index
  std::map<NodeId, uint64_t> last_applied_;
  std::vector<Entry> acked_;
  // (node, incarnation) -> (term, commit) when last seen as leader.
  std::map<std::pair<NodeId, uint64_t>, std::pair<uint64_t, uint64_t>> leader_commit_;
  std::map<std::pair<NodeId, uint64_t>, std::vector<uint64_t>> verified_terms_;
};

}  // namespace herald::replication::sim

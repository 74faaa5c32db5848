#include "replication/sim/checker.h"

#include "absl/strings/str_cat.h"

namespace herald::replication::sim {

void Checker::Fail(std::string what) {
  if (status_.ok()) status_ = absl::InternalError(std::move(what));
}

void Checker::OnApplied(NodeId node, uint64_t node_term, const Entry& e) {
  uint64_t& last = last_applied_[node];
  if (e.index != last + 1) {
    Fail(absl::StrCat("node ", node, " applied index ", e.index, " after ", last));
  }
  last = e.index;
  auto [it, inserted] = committed_.try_emplace(e.index, Committed{e.term, e.data, node_term});
  if (inserted) return;
  if (it->second.term != e.term || it->second.data != e.data) {
    Fail(absl::StrCat("committed entry ", e.index, " changed: term ", it->second.term, " data '",
                      it->second.data, "' then node ", node, " applied term ", e.term, " data '",
                      e.data, "'"));
  }
  it->second.commit_term = std::min(it->second.commit_term, node_term);
}

void Checker::OnRestart(NodeId node, uint64_t snapshot_index) {
  last_applied_[node] = snapshot_index;
}

bool Checker::DurableOnMajority(const Entry& e, const std::vector<NodeView>& nodes) const {
  size_t holders = 0;
  for (const NodeView& n : nodes) {
    const MemoryRaftLog& d = *n.durable;
    if (d.Snapshot().index >= e.index) {
      ++holders;  // compacted: only applied (committed) entries are compacted
      continue;
    }
    absl::StatusOr<uint64_t> term = d.Term(e.index);
    if (term.ok() && *term == e.term) ++holders;
  }
  return holders >= voters_ / 2 + 1;
}

void Checker::OnAck(const Entry& e, const std::vector<NodeView>& nodes) {
  acked_.push_back(e);
  if (!DurableOnMajority(e, nodes)) {
    Fail(absl::StrCat("acked entry ", e.index, "/", e.term, " is not durable on a majority"));
  }
}

void Checker::CheckLogMatching(const NodeView& n) {
  const LogView& log = n.raft->log();
  // Terms this node incarnation had when last verified: unchanged entries
  // are skipped (an (index, term) names one entry, which is what we check).
  std::vector<uint64_t>& verified = verified_terms_[{n.id, n.incarnation}];
  const uint64_t first = log.FirstIndex();
  const uint64_t last = log.LastIndex();
  if (verified.size() > last + 1) verified.resize(last + 1);
  uint64_t i = first;
  while (i <= last && i < verified.size() && verified[i] == log.Term(i)) ++i;
  if (i > last) return;
  absl::StatusOr<std::vector<Entry>> entries = log.Slice(i, last + 1, UINT64_MAX);
  if (!entries.ok()) return Fail(absl::StrCat("node ", n.id, " log unreadable"));
  uint64_t prev_term = log.Term(i - 1);
  verified.resize(last + 1, 0);
  for (const Entry& e : *entries) {
    auto [it, inserted] = identity_.try_emplace({e.index, e.term}, Identity{e.data, prev_term});
    if (!inserted && (it->second.data != e.data || it->second.prev_term != prev_term)) {
      return Fail(absl::StrCat("log matching: node ", n.id, " has a different entry ", e.index, "/",
                               e.term));
    }
    verified[e.index] = e.term;
    prev_term = e.term;
  }
}

void Checker::CheckLeader(const NodeView& n) {
  const Raft& r = *n.raft;
  auto [it, inserted] = leader_of_term_.try_emplace(r.term(), n.id);
  if (!inserted && it->second != n.id) {
    return Fail(absl::StrCat("two leaders in term ", r.term(), ": ", it->second, " and ", n.id));
  }
  const LogView& log = r.log();
  for (const auto& [index, c] : committed_) {
    if (c.commit_term >= r.term() || index < log.FirstIndex()) continue;
    if (log.Term(index) != c.term) {
      return Fail(absl::StrCat("leader completeness: leader ", n.id, " of term ", r.term(),
                               " lacks committed entry ", index, "/", c.term));
    }
  }
  const uint64_t commit = log.committed();
  auto [seen, fresh] =
      leader_commit_.try_emplace({n.id, n.incarnation}, std::make_pair(r.term(), commit));
  if (check_commit_rule_ && !fresh && seen->second.first == r.term() &&
      commit > seen->second.second && log.Term(commit) != r.term()) {
    return Fail(absl::StrCat("leader ", n.id, " of term ", r.term(), " committed index ", commit,
                             " of term ", log.Term(commit), " by counting"));
  }
  seen->second = {r.term(), commit};
}

void Checker::CheckStep(const std::vector<NodeView>& nodes) {
  for (const NodeView& n : nodes) {
    if (n.raft == nullptr) continue;
    if (!n.raft->status().ok()) {
      return Fail(absl::StrCat("node ", n.id, " failed: ", n.raft->status().ToString()));
    }
    CheckLogMatching(n);
    if (n.raft->role() == RaftRole::kLeader) CheckLeader(n);
  }
  for (const Entry& e : acked_) {
    if (!DurableOnMajority(e, nodes)) {
      return Fail(absl::StrCat("acked entry ", e.index, "/", e.term, " lost its durable majority"));
    }
  }
}

}  // namespace herald::replication::sim

#include "replication/sim/checker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "replication/conf_change.h"

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
  if (inserted) {
    if (e.type == EntryType::kConfChange) OnCommittedConfig(e);
    return;
  }
  if (it->second.term != e.term || it->second.data != e.data) {
    Fail(absl::StrCat("committed entry ", e.index, " changed: term ", it->second.term, " data '",
                      it->second.data, "' then node ", node, " applied term ", e.term, " data '",
                      e.data, "'"));
  }
  it->second.commit_term = std::min(it->second.commit_term, node_term);
}

// Entries are first applied in index order (a node applies densely, and a
// snapshot only covers entries its owner applied), so configs_ grows in
// index order.
void Checker::OnCommittedConfig(const Entry& e) {
  const Config& prev = configs_.back();
  absl::StatusOr<ConfChangeEntry> cc = DecodeConfChange(e.data);
  if (!cc.ok()) return Fail(absl::StrCat("committed config entry ", e.index, " unreadable"));
  absl::StatusOr<std::vector<NodeId>> expected = ApplyConfChange(prev.voters, cc->change);
  if (prev.index >= e.index || !expected.ok() || *expected != cc->voters) {
    return Fail(absl::StrCat("config chain: entry ", e.index, " has voters {",
                             absl::StrJoin(cc->voters, ","), "} after {",
                             absl::StrJoin(prev.voters, ","), "} at ", prev.index));
  }
  configs_.push_back({e.index, std::move(cc->voters)});
}

void Checker::OnRestart(NodeId node, uint64_t snapshot_index) {
  last_applied_[node] = snapshot_index;
}

// Safety needs every election quorum of the latest committed config C to
// include a node with the entry on its synced disk (then every future
// leader has it; later configs are one voter apart and inherit this). For
// an odd |C| that is a majority of C. It is weaker than "a majority of C"
// for an even |C|, and that difference is real: the leader counts with a
// pending config C+x as soon as it is in its log, so an entry may commit on
// a majority of C+x that is only half of C.
bool Checker::DurableOnMajority(const Entry& e, const std::vector<NodeView>& nodes) const {
  const std::vector<NodeId>& voters = configs_.back().voters;
  size_t holders = 0;
  for (const NodeView& n : nodes) {
    if (std::find(voters.begin(), voters.end(), n.id) == voters.end()) continue;
    const MemoryRaftLog& d = *n.durable;
    if (d.FirstIndex() > e.index) {  // (FirstIndex: Snapshot() copies the voters)
      ++holders;                     // compacted: only applied (committed) entries are compacted
      continue;
    }
    absl::StatusOr<uint64_t> term = d.Term(e.index);
    if (term.ok() && *term == e.term) ++holders;
  }
  const size_t quorum = voters.size() / 2 + 1;
  return holders + quorum > voters.size();
}

void Checker::OnAck(const Entry& e, const std::vector<NodeView>& nodes) {
  acked_.push_back(e);
  if (!DurableOnMajority(e, nodes)) {
    std::string where;
    for (const NodeView& n : nodes) {
      absl::StrAppend(&where, " [", n.id, ": snap ", n.durable->Snapshot().index, " last ",
                      n.durable->LastIndex(), "]");
    }
    Fail(absl::StrCat("acked entry ", e.index, "/", e.term, " is not durable on every quorum of {",
                      absl::StrJoin(configs_.back().voters, ","), "} (committed config at ",
                      configs_.back().index, "):", where));
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
  auto last = leader_commit_.find({n.id, n.incarnation});
  const bool same_term = last != leader_commit_.end() && last->second.first == r.term();
  CheckMembersOnly(r, inserted, same_term ? last->second.second : UINT64_MAX);
  if (!status_.ok()) return;
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

// Runs after every step. Configs change on a leader only through its own
// ProposeConfChange, which the simulator calls at the start of a step, before
// any message is delivered: so the config a leader has now is the one it
// counted with during this step.
void Checker::CheckMembersOnly(const Raft& r, bool new_term, uint64_t last_commit) {
  const std::vector<NodeId>& voters = r.voters();
  const auto member = [&](NodeId id) {
    return std::binary_search(voters.begin(), voters.end(), id);
  };
  const size_t quorum = voters.size() / 2 + 1;
  if (new_term) {
    const std::vector<NodeId>& won = r.won_votes();
    const size_t members = static_cast<size_t>(std::count_if(won.begin(), won.end(), member));
    if (members != won.size() || members < quorum) {
      return Fail(absl::StrCat("leader ", r.id(), " of term ", r.term(), " won with votes {",
                               absl::StrJoin(won, ","), "} in config {", absl::StrJoin(voters, ","),
                               "}"));
    }
  }
  const uint64_t commit = r.log().committed();
  if (last_commit == UINT64_MAX || commit <= last_commit) return;
  size_t holders = 0;
  for (NodeId v : voters) holders += r.MatchOf(v) >= commit ? 1 : 0;
  if (holders < quorum) {
    Fail(absl::StrCat("leader ", r.id(), " of term ", r.term(), " committed ", commit, " with ",
                      holders, " voters of {", absl::StrJoin(voters, ","), "} holding it"));
  }
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
      return Fail(absl::StrCat("acked entry ", e.index, "/", e.term,
                               " lost its durable quorum intersection"));
    }
  }
}

}  // namespace herald::replication::sim

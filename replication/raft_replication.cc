// Raft log replication: appends, heartbeats, snapshots, flow control and the
// commit rule.
#include <algorithm>

#include "replication/raft.h"

namespace herald::replication {

void Raft::AppendEntry(EntryType type, std::string data) {
  Entry e;
  e.term = term_;
  e.index = log_.LastIndex() + 1;
  e.type = type;
  e.data = std::move(data);
  log_.Append({std::move(e)});
  // A config takes effect as soon as it is in the log, on the leader too.
  if (type == EntryType::kConfChange) SyncProgress();
  // The leader's own progress moves in Advance, once the entry is durable.
  BroadcastAppend();
}

void Raft::SyncProgress() {
  const bool fresh_leader = progress_.empty();
  // While a removal is uncommitted, the removed node still gets appends (it
  // never counts) so that it learns it is out and stops campaigning.
  std::vector<NodeId> leaving;
  if (log_.LastConfIndex() > log_.committed()) leaving = log_.VotersAt(log_.LastConfIndex() - 1);
  const auto tracked = [&](NodeId id) {
    return id == id_ || IsVoter(id) ||
           std::find(leaving.begin(), leaving.end(), id) != leaving.end();
  };
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (!tracked(it->first)) {
      it = progress_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<NodeId> peers = log_.Voters();
  peers.push_back(id_);  // the leader tracks its own durable log even if it left the config
  for (NodeId v : peers) {
    auto [it, added] =
        progress_.try_emplace(v, Progress(log_.LastIndex() + 1, config_.max_inflight_msgs));
    if (!added) continue;
    if (v == id_) {
      // Our own copy counts only as far as it is durable.
      it->second.MaybeUpdate(log_.StableLastIndex());
      it->second.BecomeReplicate();
    } else if (!fresh_leader) {
      // A voter added mid-term: give it an election timeout before
      // CheckQuorum counts it as dead, and let it receive a snapshot.
      it->second.set_recent_active(true);
    }
  }
}

bool Raft::OnCommitted() {
  // Progress beyond the voters and ourselves = a node whose removal was
  // pending; once that is committed, stop replicating to it.
  if (progress_.size() > log_.Voters().size() + (IsVoter(id_) ? 0 : 1)) SyncProgress();
  BroadcastAppend();
  if (IsVoter(id_) || log_.committed() < log_.LastConfIndex()) return true;
  // We removed ourselves and the change is committed (dissertation §4.2.2):
  // hand over to an up-to-date voter, if there is one, and step down. The
  // appends above already carry the new commit index.
  NodeId best = kNoNode;
  for (NodeId v : log_.Voters()) {
    if (progress_.at(v).match() == log_.LastIndex()) best = v;
  }
  if (best != kNoNode) Send(MakeMessage(MessageType::kTimeoutNow, best));
  BecomeFollower(term_, kNoNode);
  return false;
}

bool Raft::MaybeCommit() {
  // Only voters count: a leader that removed itself, or a node it no longer
  // (or does not yet) consider a member, is never part of a majority.
  std::vector<uint64_t> matches;
  matches.reserve(log_.Voters().size());
  for (NodeId v : log_.Voters()) matches.push_back(progress_.at(v).match());
  if (config_.testing.count_non_member_acks) {
    matches.clear();
    for (const auto& [id, pr] : progress_) matches.push_back(pr.match());
  }
  const uint64_t index = QuorumIndex(matches);
  if (config_.testing.commit_old_terms_by_counting) {
    if (index <= log_.committed()) return false;
    log_.CommitTo(index);
    return true;
  }
  // Figure 8 of the Raft paper: an old-term entry on a majority can still be
  // overwritten, so only an entry of our own term commits by counting.
  return log_.MaybeCommit(index, term_);
}

bool Raft::QuorumActive() {
  size_t active = 0;
  for (NodeId v : log_.Voters()) {
    if (v == id_ || progress_.at(v).recent_active()) ++active;
  }
  for (auto& [id, pr] : progress_) pr.set_recent_active(false);
  return active >= QuorumSize(log_.Voters().size());
}

bool Raft::SendAppend(NodeId to, bool send_if_empty) {
  Progress& pr = progress_.at(to);
  if (pr.IsPaused()) return false;
  const uint64_t prev = pr.next() - 1;
  if (prev + 1 < log_.FirstIndex()) return SendSnapshot(to, pr);
  const uint64_t hi = std::min(log_.LastIndex() + 1, pr.next() + config_.max_msg_entries);
  absl::StatusOr<std::vector<Entry>> entries = log_.Slice(pr.next(), hi, config_.max_msg_bytes);
  if (!entries.ok()) {
    if (absl::IsOutOfRange(entries.status())) return SendSnapshot(to, pr);
    return false;  // the log view failed; status() reports it
  }
  if (entries->empty() && !send_if_empty) return false;
  Message m = MakeMessage(MessageType::kAppend, to);
  m.index = prev;
  m.log_term = log_.Term(prev);
  m.commit = log_.committed();
  const uint64_t last = entries->empty() ? prev : entries->back().index;
  m.entries = std::move(*entries);
  pr.SentEntries(last);
  Send(std::move(m));
  return true;
}

bool Raft::SendSnapshot(NodeId to, Progress& pr) {
  if (!pr.recent_active()) return false;  // do not ship state to a dead node
  const SnapshotMeta snap = log_.StorageSnapshot();
  if (snap.index == 0) return false;
  Message m = MakeMessage(MessageType::kSnapshot, to);
  m.snapshot = snap;
  pr.BecomeSnapshot(snap.index);
  Send(std::move(m));
  return true;
}

void Raft::BroadcastAppend() {
  for (const auto& [v, pr] : progress_) {
    if (v != id_) SendAppend(v, /*send_if_empty=*/true);
  }
}

void Raft::BroadcastHeartbeat() {
  for (const auto& [v, pr] : progress_) {
    if (v == id_) continue;
    Message m = MakeMessage(MessageType::kHeartbeat, v);
    // Never tell a follower to commit past what it is known to hold.
    m.commit = std::min(pr.match(), log_.committed());
    Send(std::move(m));
  }
}

void Raft::StepLeader(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  if (m.type == MessageType::kAppendResp) {
    it->second.set_recent_active(true);
    HandleAppendResponse(m);
  } else if (m.type == MessageType::kHeartbeatResp) {
    it->second.set_recent_active(true);
    HandleHeartbeatResponse(m);
  }
}

void Raft::HandleAppendResponse(const Message& m) {
  Progress& pr = progress_.at(m.from);
  if (m.reject) {
    uint64_t hint = m.reject_hint;
    if (m.log_term > 0) hint = log_.FindConflictByTerm(m.reject_hint, m.log_term);
    if (pr.MaybeDecrTo(m.index, hint)) {
      if (pr.state() == Progress::State::kReplicate) pr.BecomeProbe();
      SendAppend(m.from, /*send_if_empty=*/true);
    }
    return;
  }
  if (!pr.MaybeUpdate(m.index)) return;
  if (pr.state() == Progress::State::kProbe) {
    pr.BecomeReplicate();
  } else if (pr.state() == Progress::State::kSnapshot && pr.match() >= pr.pending_snapshot()) {
    pr.BecomeProbe();
    pr.BecomeReplicate();
  }
  if (MaybeCommit() && !OnCommitted()) return;  // stepped down
  // OnCommitted may have dropped the sender (its removal committed).
  if (progress_.count(m.from) == 0) return;
  // Stream what is left; bounded by the inflight window and the log end.
  while (SendAppend(m.from, /*send_if_empty=*/false)) {
  }
  if (m.from == lead_transferee_ && progress_.at(m.from).match() == log_.LastIndex()) {
    Send(MakeMessage(MessageType::kTimeoutNow, m.from));
  }
}

void Raft::HandleHeartbeatResponse(const Message& m) {
  Progress& pr = progress_.at(m.from);
  // A lost snapshot must not leave the follower waiting forever: probe again.
  if (pr.state() == Progress::State::kSnapshot) pr.BecomeProbe();
  pr.OnHeartbeatResponse();
  if (pr.match() < log_.LastIndex()) SendAppend(m.from, /*send_if_empty=*/true);
}

void Raft::StepFollower(const Message& m) {
  const bool from_leader = m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
                           m.type == MessageType::kSnapshot;
  if (from_leader) {
    // Same term: whoever sends appends won the election; candidates yield.
    if (role_ != RaftRole::kFollower) BecomeFollower(term_, m.from);
    election_elapsed_ = 0;
    lead_ = m.from;
  }
  switch (m.type) {
    case MessageType::kAppend:
      HandleAppend(m);
      break;
    case MessageType::kHeartbeat:
      log_.CommitTo(m.commit);
      Send(MakeMessage(MessageType::kHeartbeatResp, m.from));
      break;
    case MessageType::kSnapshot:
      HandleSnapshot(m);
      break;
    case MessageType::kTimeoutNow:
      if (role_ == RaftRole::kFollower) StartCampaign(/*pre_vote=*/false, /*transfer=*/true);
      break;
    default:
      break;
  }
}

void Raft::HandleAppend(const Message& m) {
  Message r = MakeMessage(MessageType::kAppendResp, m.from);
  if (m.index < log_.committed()) {
    r.index = log_.committed();
    Send(std::move(r));
    return;
  }
  std::optional<uint64_t> last_new = log_.MaybeAppend(m.index, m.log_term, m.commit, m.entries);
  if (!status().ok()) return;
  if (last_new) {
    r.index = *last_new;  // sent only after these entries are persisted
  } else {
    const uint64_t hint = log_.FindConflictByTerm(std::min(m.index, log_.LastIndex()), m.log_term);
    r.reject = true;
    r.index = m.index;
    r.reject_hint = hint;
    r.log_term = log_.Term(hint);
  }
  Send(std::move(r));
}

void Raft::HandleSnapshot(const Message& m) {
  const SnapshotMeta& snap = m.snapshot;
  Message r = MakeMessage(MessageType::kAppendResp, m.from);
  if (snap.index <= log_.committed()) {
    r.index = log_.committed();
  } else if (log_.MatchTerm(snap.index, snap.term)) {
    log_.CommitTo(snap.index);  // we already hold that prefix: fast-forward
    r.index = log_.committed();
  } else {
    log_.Restore(snap);
    r.index = log_.LastIndex();
  }
  Send(std::move(r));
}

}  // namespace herald::replication

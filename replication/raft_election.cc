// Raft roles, terms and elections: PreVote, votes, the leader lease used by
// CheckQuorum, and TimeoutNow-driven leadership transfer.
#include <algorithm>

#include "replication/raft.h"

namespace herald::replication {

void Raft::ResetRandomizedElectionTimeout() {
  // splitmix64: deterministic per (seed, id), spreads timeouts so that
  // candidates rarely collide.
  rng_state_ += 0x9E3779B97F4A7C15ULL;
  uint64_t z = rng_state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  randomized_election_timeout_ =
      config_.election_tick + static_cast<int>(z % static_cast<uint64_t>(config_.election_tick));
}

// A node outside its own config never campaigns (a removed node, or one
// that is joining and has not received the entry that adds it).
bool Raft::Promotable() const { return IsVoter(id_); }

// A follower that heard from a live leader within the election timeout
// ignores vote requests, so a node that was partitioned away cannot depose
// a healthy leader (CheckQuorum's half of the deal).
bool Raft::InLease() const {
  return config_.check_quorum && lead_ != kNoNode && election_elapsed_ < config_.election_tick;
}

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
  }
  lead_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortTransfer();
  votes_.clear();
  won_votes_.clear();
  progress_.clear();
}

void Raft::BecomeFollower(uint64_t term, NodeId lead) {
  Reset(term);
  lead_ = lead;
  role_ = RaftRole::kFollower;
}

void Raft::BecomePreCandidate() {
  // Neither term nor vote changes: a pre-candidate that cannot win an
  // election leaves no trace on anybody.
  votes_.clear();
  progress_.clear();
  lead_ = kNoNode;
  role_ = RaftRole::kPreCandidate;
}

void Raft::BecomeCandidate() {
  ++elections_started_;
  Reset(term_ + 1);
  vote_ = id_;
  role_ = RaftRole::kCandidate;
}

void Raft::BecomeLeader() {
  std::vector<NodeId> won;
  for (const auto& [id, yes] : votes_) {
    if (yes) won.push_back(id);
  }
  Reset(term_);
  won_votes_ = std::move(won);
  lead_ = id_;
  role_ = RaftRole::kLeader;
  SyncProgress();
  // Our own copy counts only as far as it is durable.
  Progress& self = progress_.at(id_);
  self.MaybeUpdate(log_.StableLastIndex());
  self.BecomeReplicate();
  // Entries of earlier terms commit only once an entry of this term does.
  AppendEntry(EntryType::kNoop, "");
}

void Raft::Campaign() {
  if (!status().ok() || role_ == RaftRole::kLeader) return;
  StartCampaign(config_.pre_vote, /*transfer=*/false);
}

void Raft::StartCampaign(bool pre_vote, bool transfer) {
  if (!Promotable()) return;
  MessageType type;
  uint64_t vote_term;
  if (pre_vote) {
    BecomePreCandidate();
    type = MessageType::kPreVote;
    vote_term = term_ + 1;
  } else {
    BecomeCandidate();
    type = MessageType::kVote;
    vote_term = term_;
  }
  votes_[id_] = true;
  const std::vector<NodeId> voters = log_.Voters();
  if (QuorumSize(voters.size()) <= 1) {  // single voter: we are the majority
    if (pre_vote) {
      StartCampaign(/*pre_vote=*/false, transfer);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (NodeId v : voters) {
    if (v == id_) continue;
    Message m = MakeMessage(type, v);
    m.term = vote_term;
    m.index = log_.LastIndex();
    m.log_term = log_.LastTerm();
    m.transfer = transfer;
    Send(std::move(m));
  }
}

// Compares m.term with ours. Returns false if the message is fully handled.
bool Raft::StepTerm(const Message& m) {
  const bool vote_request = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
  if (m.term > term_) {
    if (vote_request && !m.transfer && InLease()) return false;
    if (m.type == MessageType::kPreVote) return true;  // never bump our term for a PreVote
    if (m.type == MessageType::kPreVoteResp && !m.reject) return true;
    const bool from_leader = m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
                             m.type == MessageType::kSnapshot;
    BecomeFollower(m.term, from_leader ? m.from : kNoNode);
    return true;
  }
  if (m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::kHeartbeat || m.type == MessageType::kAppend)) {
      // Tell the stale leader our term so it steps down; with PreVote it
      // may otherwise never learn it.
      Send(MakeMessage(MessageType::kAppendResp, m.from));
    } else if (m.type == MessageType::kPreVote) {
      Message r = MakeMessage(MessageType::kPreVoteResp, m.from);
      r.term = term_;
      r.reject = true;
      Send(std::move(r));
    }
    return false;
  }
  return true;
}

void Raft::HandleVoteRequest(const Message& m) {
  const bool pre = m.type == MessageType::kPreVote;
  const bool can_vote =
      vote_ == m.from || (vote_ == kNoNode && lead_ == kNoNode) || (pre && m.term > term_);
  Message r = MakeMessage(pre ? MessageType::kPreVoteResp : MessageType::kVoteResp, m.from);
  if (can_vote && log_.IsUpToDate(m.index, m.log_term)) {
    r.term = m.term;
    if (!pre) {
      // Persisted (Ready.hard_state) before this response is sent.
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    r.term = term_;
    r.reject = true;
  }
  Send(std::move(r));
}

void Raft::HandleVoteResponse(const Message& m) {
  const bool pre = m.type == MessageType::kPreVoteResp;
  if (role_ != (pre ? RaftRole::kPreCandidate : RaftRole::kCandidate)) return;
  // Only our voters' answers count; a majority is a majority of them.
  if (!IsVoter(m.from) && !config_.testing.count_non_member_votes) return;
  votes_.emplace(m.from, !m.reject);
  size_t granted = 0;
  for (const auto& [id, yes] : votes_) granted += yes ? 1 : 0;
  const size_t rejected = votes_.size() - granted;
  const size_t quorum = QuorumSize(log_.Voters().size());
  if (granted >= quorum) {
    if (pre) {
      StartCampaign(/*pre_vote=*/false, /*transfer=*/false);
    } else {
      BecomeLeader();
    }
  } else if (rejected >= quorum) {
    BecomeFollower(term_, kNoNode);
  }
}

void Raft::Tick() {
  if (!status().ok()) return;
  if (role_ == RaftRole::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
  if (!status().ok()) outbox_.clear();
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (Promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    StartCampaign(config_.pre_vote, /*transfer=*/false);
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_tick) {
    election_elapsed_ = 0;
    if (config_.check_quorum && !QuorumActive()) {
      BecomeFollower(term_, kNoNode);  // we may be the stale side of a partition
      return;
    }
    AbortTransfer();  // a transfer that did not finish in time is abandoned
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    BroadcastHeartbeat();
  }
}

}  // namespace herald::replication

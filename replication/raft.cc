// Raft: construction, message dispatch, proposals and the Ready/Advance
// handshake. Elections live in raft_election.cc, replication in
// raft_replication.cc.
#include "replication/raft.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace herald::replication {

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResp:
      return "PreVoteResp";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResp:
      return "VoteResp";
    case MessageType::kAppend:
      return "Append";
    case MessageType::kAppendResp:
      return "AppendResp";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResp:
      return "HeartbeatResp";
    case MessageType::kSnapshot:
      return "Snapshot";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
  }
  return "?";
}

const char* RaftRoleName(RaftRole role) {
  switch (role) {
    case RaftRole::kFollower:
      return "follower";
    case RaftRole::kPreCandidate:
      return "pre-candidate";
    case RaftRole::kCandidate:
      return "candidate";
    case RaftRole::kLeader:
      return "leader";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<Raft>> Raft::Create(const RaftConfig& config, const RaftLog* log) {
  if (config.id == kNoNode) return absl::InvalidArgumentError("node id must be non-zero");
  if (std::find(config.voters.begin(), config.voters.end(), kNoNode) != config.voters.end()) {
    return absl::InvalidArgumentError("voter ids must be non-zero");
  }
  if (config.election_tick <= config.heartbeat_tick || config.heartbeat_tick <= 0) {
    return absl::InvalidArgumentError("need 0 < heartbeat_tick < election_tick");
  }
  if (config.max_inflight_msgs == 0 || config.max_msg_entries == 0) {
    return absl::InvalidArgumentError("flow-control limits must be positive");
  }
  const HardState hs = log->InitialHardState();
  if (hs.commit > log->LastIndex()) {
    return absl::DataLossError(absl::StrCat("hard state commit ", hs.commit,
                                            " is past the last log index ", log->LastIndex()));
  }
  std::unique_ptr<Raft> raft(new Raft(config, log));
  if (!raft->status().ok()) return raft->status();
  return raft;
}

Raft::Raft(const RaftConfig& config, const RaftLog* log)
    : config_(config),
      id_(config.id),
      log_(log, config.voters),
      rng_state_(config.seed * 0x9E3779B97F4A7C15ULL + config.id) {
  const HardState hs = log->InitialHardState();
  term_ = hs.term;
  vote_ = hs.vote;
  log_.CommitTo(hs.commit);
  log_.AppliedTo(std::min(config.applied, log_.committed()));
  persisted_hard_state_ = CurrentHardState();
  BecomeFollower(term_, kNoNode);
}

HardState Raft::CurrentHardState() const {
  HardState hs{term_, vote_, log_.committed()};
  if (config_.testing.skip_vote_persist) hs.vote = kNoNode;
  return hs;
}

void Raft::Send(Message m) {
  m.from = id_;
  // Responses to (pre)votes carry the term they answer; everything else ours.
  if (m.type != MessageType::kPreVoteResp && m.type != MessageType::kPreVote) m.term = term_;
  if (outbox_.size() >= config_.max_outbox_msgs) {
    ++dropped_messages_;  // deliberate: Raft retries on later ticks and responses
    return;
  }
  outbox_.push_back(std::move(m));
}

// Structural checks on a message from the network: a corrupt or forged
// append must be refused before it can touch the log.
absl::Status Raft::ValidateMessage(const Message& m) const {
  if (m.to != id_) return absl::InvalidArgumentError(absl::StrCat("message for node ", m.to));
  if (m.type != MessageType::kAppend && !m.entries.empty()) {
    return absl::InvalidArgumentError("entries on a non-append message");
  }
  uint64_t prev_term = m.log_term;
  for (size_t i = 0; i < m.entries.size(); ++i) {
    const Entry& e = m.entries[i];
    if (e.index != m.index + 1 + i) return absl::InvalidArgumentError("append indexes not dense");
    if (e.term < prev_term || e.term > m.term) {
      return absl::InvalidArgumentError("append terms out of order");
    }
    if (e.type == EntryType::kConfChange) {
      if (absl::Status s = DecodeConfChange(e.data).status(); !s.ok()) return s;
    } else if (e.type != EntryType::kNormal && e.type != EntryType::kNoop) {
      return absl::InvalidArgumentError("unknown entry type");
    }
    prev_term = e.term;
  }
  if (m.type == MessageType::kAppend && m.log_term > m.term) {
    return absl::InvalidArgumentError("append prev term above message term");
  }
  return absl::OkStatus();
}

absl::Status Raft::Step(const Message& m) {
  if (!status().ok()) return status();
  // Messages from non-members are not dropped here: a node that is being
  // added does not know its config yet, and a follower may lag behind the
  // leader's config. Instead a leader ignores responses from nodes it has
  // no progress for, and a candidate counts only its voters' grants.
  if (m.from == kNoNode || m.from == id_) return absl::OkStatus();
  if (absl::Status s = ValidateMessage(m); !s.ok()) return s;  // dropped, node unharmed
  if (!StepTerm(m)) return status();
  switch (m.type) {
    case MessageType::kPreVote:
    case MessageType::kVote:
      HandleVoteRequest(m);
      break;
    case MessageType::kPreVoteResp:
    case MessageType::kVoteResp:
      HandleVoteResponse(m);
      break;
    default:
      if (role_ == RaftRole::kLeader) {
        StepLeader(m);
      } else {
        StepFollower(m);
      }
  }
  if (!status().ok()) outbox_.clear();  // decisions from a bad log must not leak
  return status();
}

absl::StatusOr<uint64_t> Raft::Propose(std::string data) {
  if (!status().ok()) return status();
  if (role_ != RaftRole::kLeader) {
    return absl::FailedPreconditionError(absl::StrCat("not leader; leader hint ", lead_));
  }
  if (lead_transferee_ != kNoNode) {
    return absl::UnavailableError("leadership transfer in progress");
  }
  if (data.size() > config_.max_msg_bytes) {
    return absl::InvalidArgumentError("proposal larger than max_msg_bytes");
  }
  if (log_.LastIndex() - log_.committed() >= config_.max_uncommitted_entries) {
    return absl::ResourceExhaustedError("too many uncommitted entries");
  }
  AppendEntry(EntryType::kNormal, std::move(data));
  return log_.LastIndex();
}

absl::StatusOr<uint64_t> Raft::ProposeConfChange(const ConfChange& change) {
  if (!status().ok()) return status();
  if (role_ != RaftRole::kLeader) {
    return absl::FailedPreconditionError(absl::StrCat("not leader; leader hint ", lead_));
  }
  if (lead_transferee_ != kNoNode) {
    return absl::UnavailableError("leadership transfer in progress");
  }
  // Ongaro, raft-dev 2015: a leader that has not committed an entry of its
  // own term may hold a config entry that an earlier leader replaced; adding
  // a second change on top of it could let two disjoint majorities decide.
  if (log_.Term(log_.committed()) != term_) {
    return absl::FailedPreconditionError("leader has not committed an entry of its term yet");
  }
  // One change at a time: every node then uses one of two adjacent configs,
  // whose majorities overlap (dissertation §4.1).
  if (log_.LastConfIndex() > log_.applied()) {
    return absl::FailedPreconditionError(
        absl::StrCat("config change at index ", log_.LastConfIndex(), " is still pending"));
  }
  absl::StatusOr<std::vector<NodeId>> next = ApplyConfChange(log_.Voters(), change);
  if (!next.ok()) return next.status();
  if (log_.LastIndex() - log_.committed() >= config_.max_uncommitted_entries) {
    return absl::ResourceExhaustedError("too many uncommitted entries");
  }
  AppendEntry(EntryType::kConfChange, EncodeConfChange(change, *next));
  return log_.LastIndex();
}

absl::Status Raft::TransferLeadership(NodeId target) {
  if (role_ != RaftRole::kLeader) return absl::FailedPreconditionError("not leader");
  if (target == id_) return absl::OkStatus();
  if (!IsVoter(target) || progress_.count(target) == 0) {
    return absl::InvalidArgumentError("transfer target is not a voter");
  }
  lead_transferee_ = target;
  // The transfer must finish within an election timeout or it is abandoned.
  election_elapsed_ = 0;
  if (progress_.at(target).match() == log_.LastIndex()) {
    Send(MakeMessage(MessageType::kTimeoutNow, target));
  } else {
    SendAppend(target, /*send_if_empty=*/true);
  }
  return absl::OkStatus();
}

uint64_t Raft::MatchOf(NodeId peer) const {
  auto it = progress_.find(peer);
  return it == progress_.end() ? 0 : it->second.match();
}

bool Raft::HasReady() const {
  if (!status().ok()) return false;
  return !outbox_.empty() || !log_.UnstableEntries().empty() || log_.UnstableSnapshot() ||
         CurrentHardState() != persisted_hard_state_ || log_.committed() > log_.applied();
}

Ready Raft::GetReady() {
  Ready rd;
  if (!status().ok()) return rd;
  rd.snapshot = log_.UnstableSnapshot();
  rd.entries = log_.UnstableEntries();
  if (CurrentHardState() != persisted_hard_state_) rd.hard_state = CurrentHardState();
  rd.messages = std::move(outbox_);
  outbox_.clear();
  rd.committed_entries = log_.NextCommittedEntries(config_.max_committed_bytes_per_ready);
  if (!status().ok()) return Ready{};
  return rd;
}

void Raft::Advance(const Ready& rd) {
  if (!status().ok()) return;
  if (rd.hard_state) persisted_hard_state_ = *rd.hard_state;
  if (rd.snapshot) log_.StableSnapTo(rd.snapshot->index);
  if (!rd.committed_entries.empty()) log_.AppliedTo(rd.committed_entries.back().index);
  if (rd.entries.empty()) return;
  const Entry& last = rd.entries.back();
  if (!log_.StableTo(last.index, last.term) || role_ != RaftRole::kLeader) return;
  // Only now may the leader count its own copy toward a majority.
  if (progress_.at(id_).MaybeUpdate(last.index) && MaybeCommit()) OnCommitted();
}

}  // namespace herald::replication

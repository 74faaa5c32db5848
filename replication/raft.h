#pragma once
// Raft: one consensus group member as a pure, deterministic state machine in
// the etcd-raft style. No I/O, no threads, no clock: the owner feeds it
// messages (Step), ticks (Tick) and proposals (Propose), collects its output
// with GetReady(), persists and sends that output, then calls Advance().
//
// Durability rules the core relies on (see types.h Ready for the order):
//   - (term, vote) are persisted before any vote response is sent;
//   - entries are persisted before the append response that acks them;
//   - a leader counts its own log toward commit only for entries the owner
//     has persisted (Advance), so a commit is always on a durable majority;
//   - a leader commits by counting only entries of its own term.
//
// Threads: none. A Raft object is not thread-safe; one owner drives it.
// Errors: a storage read failure or a broken internal invariant makes the
// instance fail permanently (status() non-OK, Step returns it, GetReady is
// empty). The owner must restart the node from its durable state.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "replication/conf_change.h"
#include "replication/log_view.h"
#include "replication/progress.h"
#include "replication/raft_log.h"
#include "replication/types.h"

namespace herald::replication {

// Deliberately broken behaviour, only so tests can prove the simulator's
// checker catches real protocol bugs. Never set outside tests.
struct RaftTestingKnobs {
  bool commit_old_terms_by_counting = false;  // drops the current-term check
  bool skip_vote_persist = false;             // Ready hard states carry no vote
  bool count_non_member_votes = false;        // a candidate counts every grant
  bool count_non_member_acks = false;         // commit counts every tracked node
};

struct RaftConfig {
  NodeId id = kNoNode;
  // The bootstrap voters: in effect until the log (a kConfChange entry) or
  // the snapshot (SnapshotMeta::voters) says otherwise. Every founding
  // member gets the same list; a node joining later gets an empty list and
  // learns its config from the leader (it never campaigns before).
  std::vector<NodeId> voters;
  int election_tick = 10;    // ticks without a leader before campaigning
  int heartbeat_tick = 1;    // ticks between leader heartbeats
  bool pre_vote = true;      // PreVote: a partitioned node cannot bump terms
  bool check_quorum = true;  // leader steps down without a live quorum
  uint64_t max_msg_entries = 64;
  uint64_t max_msg_bytes = 1 << 20;
  size_t max_inflight_msgs = 32;            // per follower in Replicate state
  size_t max_outbox_msgs = 4096;            // further messages are dropped (Raft retries)
  uint64_t max_uncommitted_entries = 1024;  // Propose fails beyond this
  uint64_t max_committed_bytes_per_ready = 4 << 20;
  uint64_t applied = 0;  // owner's last applied index when restarting
  uint64_t seed = 1;     // randomized election timeout (deterministic)
  RaftTestingKnobs testing;
};

enum class RaftRole { kFollower, kPreCandidate, kCandidate, kLeader };
const char* RaftRoleName(RaftRole role);

class Raft {
 public:
  // Reads the hard state and log from `log` (which must outlive the Raft).
  static absl::StatusOr<std::unique_ptr<Raft>> Create(const RaftConfig& config, const RaftLog* log);

  // Handles one message from a peer. Stale messages are ignored (OK).
  // Messages from non-members are processed (a joining node has no config
  // yet), but only voters' grants and acks ever count. A malformed message is dropped with
  // INVALID_ARGUMENT and leaves the node unharmed. Any other error is the
  // node's permanent failure (status()).
  absl::Status Step(const Message& m);
  // Advances logical time by one tick (elections, heartbeats, CheckQuorum).
  void Tick();
  // Appends data as a new entry if this node is leader; returns its index.
  // FAILED_PRECONDITION: not leader (leader() is a hint). UNAVAILABLE:
  // leadership transfer in progress. RESOURCE_EXHAUSTED: too much
  // uncommitted. The entry is committed only when it shows up in a Ready's
  // committed_entries with the same term.
  absl::StatusOr<uint64_t> Propose(std::string data);
  // Leader only: appends a membership change (one voter added or removed)
  // and returns its index. It takes effect on each node as soon as it is in
  // that node's log (README "Membership changes"). FAILED_PRECONDITION: not
  // leader, the leader has not committed an entry of its term yet, a change
  // is pending (in the log but not yet applied), or the change is a no-op or
  // removes the last voter. UNAVAILABLE/RESOURCE_EXHAUSTED as Propose.
  absl::StatusOr<uint64_t> ProposeConfChange(const ConfChange& change);
  // Leader only: hands leadership to `target` once it is caught up.
  absl::Status TransferLeadership(NodeId target);
  // Starts an election now (as if the election timer fired).
  void Campaign();

  bool HasReady() const;
  // Output to persist/send/apply since the last Advance (see types.h).
  Ready GetReady();
  // The owner durably persisted `ready` (and sent/applied it).
  void Advance(const Ready& ready);

  NodeId id() const { return id_; }
  RaftRole role() const { return role_; }
  uint64_t term() const { return term_; }
  NodeId leader() const { return lead_; }
  NodeId vote() const { return vote_; }
  NodeId transferee() const { return lead_transferee_; }
  // The voters in effect on this node (latest config entry in its log).
  const std::vector<NodeId>& voters() const { return log_.Voters(); }
  // Leader only: the nodes whose votes elected it (checkers and tests).
  const std::vector<NodeId>& won_votes() const { return won_votes_; }
  const LogView& log() const { return log_; }
  const absl::Status& status() const { return log_.status(); }
  // Messages dropped because the outbox was full (max_outbox_msgs).
  uint64_t dropped_messages() const { return dropped_messages_; }
  // Elections this node started (became candidate: a new term), transfers
  // included; pre-vote rounds are not counted. For metrics.
  uint64_t elections_started() const { return elections_started_; }
  // Leader only: the follower's match index (0 if unknown).
  uint64_t MatchOf(NodeId peer) const;

 private:
  Raft(const RaftConfig& config, const RaftLog* log);

  // Roles (raft_election.cc).
  void Reset(uint64_t term);
  void BecomeFollower(uint64_t term, NodeId lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void StartCampaign(bool pre_vote, bool transfer);
  void HandleVoteRequest(const Message& m);
  void HandleVoteResponse(const Message& m);
  bool StepTerm(const Message& m);
  void TickElection();
  void TickHeartbeat();
  bool InLease() const;
  bool Promotable() const;
  void ResetRandomizedElectionTimeout();

  // Replication (raft_replication.cc).
  void StepLeader(const Message& m);
  void StepFollower(const Message& m);
  void HandleAppend(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  void HandleAppendResponse(const Message& m);
  void HandleHeartbeatResponse(const Message& m);
  bool SendAppend(NodeId to, bool send_if_empty);
  bool SendSnapshot(NodeId to, Progress& pr);
  void BroadcastAppend();
  void BroadcastHeartbeat();
  bool MaybeCommit();
  void AppendEntry(EntryType type, std::string data);
  bool QuorumActive();
  void AbortTransfer() { lead_transferee_ = kNoNode; }
  bool IsVoter(NodeId id) const { return log_.IsVoter(id); }
  // Leader: progress for every voter (and itself), none for anybody else.
  void SyncProgress();
  // Leader: the commit index moved. Returns false if the leader stepped
  // down (it removed itself and that change is now committed).
  bool OnCommitted();

  absl::Status ValidateMessage(const Message& m) const;
  void Send(Message m);
  HardState CurrentHardState() const;

  RaftConfig config_;
  NodeId id_;
  RaftRole role_ = RaftRole::kFollower;
  uint64_t term_ = 0;
  NodeId vote_ = kNoNode;
  NodeId lead_ = kNoNode;
  NodeId lead_transferee_ = kNoNode;
  LogView log_;
  std::map<NodeId, Progress> progress_;  // leader only
  std::map<NodeId, bool> votes_;         // (pre)candidate only
  std::vector<NodeId> won_votes_;        // leader only
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  uint64_t rng_state_;
  std::vector<Message> outbox_;
  HardState persisted_hard_state_;  // as of the last Advance
  uint64_t dropped_messages_ = 0;
  uint64_t elections_started_ = 0;
};

}  // namespace herald::replication

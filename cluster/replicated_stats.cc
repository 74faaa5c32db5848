// ReplicatedLogStore: metrics numbers and the leadership hand-off before a
// planned stop (see replicated_log_store.h).
#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cluster/replicated_log_store.h"
#include "cluster/replicated_log_store_internal.h"

namespace herald::cluster {
namespace {

using replication::GroupId;
using replication::NodeId;
using Clock = std::chrono::steady_clock;

// The reachable other voter with the highest match (the one a transfer
// catches up fastest), avoiding `tried` (a transfer to it did not finish)
// when there is another; kNoNode if there is none.
NodeId HandOffTarget(const replication::GroupStatus& status, NodeId self, NodeId tried) {
  auto eligible = [&](NodeId voter) {
    return voter != self && std::find(status.unreachable.begin(), status.unreachable.end(),
                                      voter) == status.unreachable.end();
  };
  const auto candidates = std::count_if(status.voters.begin(), status.voters.end(), eligible);
  NodeId best = replication::kNoNode;
  uint64_t best_match = 0;
  for (NodeId voter : status.voters) {
    if (!eligible(voter) || (voter == tried && candidates > 1)) continue;
    auto it = status.match.find(voter);
    const uint64_t match = it == status.match.end() ? 0 : it->second;
    if (best == replication::kNoNode || match > best_match) {
      best = voter;
      best_match = match;
    }
  }
  return best;
}

}  // namespace

std::optional<storage::ReplicationStats> ReplicatedLogStore::GetReplicationStats() {
  storage::ReplicationStats out;
  out.node_id = options_.node_id;
  auto meta = host_->GetGroupStatus(kMetadataGroup);
  out.controller = meta.ok() && meta->leader == static_cast<NodeId>(options_.node_id) &&
                   meta->role == replication::RaftRole::kLeader;
  const replication::RaftHostStats host = host_->stats();
  out.leader_changes = host.leader_changes;
  out.elections_started = host.elections_started;
  out.ticks = host.ticks;
  out.late_ticks = host.late_ticks;
  out.max_persist_us = host.max_persist_us;
  out.inbound_dropped = host.inbound_dropped_full;
  for (const auto& [id, addresses] : options_.nodes) {
    if (id == options_.node_id) continue;
    const replication::PeerSenderStats peer = transport_->peer_stats(static_cast<NodeId>(id));
    storage::ReplicationPeerStats p;
    p.node = id;
    p.sent_batches = peer.sent_batches;
    p.dropped_msgs = peer.dropped_msgs;
    p.stream_failures = peer.stream_failures;
    p.queued_msgs = peer.queued_msgs;
    out.peers.push_back(p);
  }
  out.commit_latency = commit_latency_.Snapshot();
  return out;
}

std::vector<GroupId> ReplicatedLogStore::GroupsLedHere() const {
  std::vector<GroupId> groups;
  {
    absl::MutexLock lock(&logs_mu_);
    for (const auto& [group, log] : logs_) groups.push_back(group);
  }
  const NodeId self = static_cast<NodeId>(options_.node_id);
  std::vector<GroupId> led;
  for (GroupId group : groups) {
    auto status = host_->GetGroupStatus(group);
    if (!status.ok() || !status->status.ok()) continue;
    if (status->leader == self && status->role == replication::RaftRole::kLeader) {
      led.push_back(group);
    }
  }
  return led;
}

absl::Status ReplicatedLogStore::HandOffLeadership(int64_t timeout_ms) {
  return TransferLeadershipAway(absl::Milliseconds(timeout_ms));
}

// One transfer per group at a time; the core abandons a transfer after an
// election timeout (e.g. the target was unreachable), so a group still led
// here then is asked again, possibly toward another voter.
absl::Status ReplicatedLogStore::TransferLeadershipAway(absl::Duration timeout) {
  const NodeId self = static_cast<NodeId>(options_.node_id);
  const auto start = Clock::now();
  const auto deadline = start + absl::ToChronoMilliseconds(timeout);
  const auto retry_after =
      std::chrono::milliseconds(options_.tick_ms * (options_.election_ticks + 1));
  const auto poll = std::chrono::milliseconds(std::max(1, options_.tick_ms / 10));
  struct Move {
    Clock::time_point ask_at;
    NodeId target = replication::kNoNode;  // last asked
  };
  std::map<GroupId, Move> moving;
  for (GroupId group : GroupsLedHere()) moving[group] = Move{start};
  while (!moving.empty()) {
    const auto now = Clock::now();
    for (auto it = moving.begin(); it != moving.end();) {
      Move& move = it->second;
      auto status = host_->GetGroupStatus(it->first);
      const bool still_here = status.ok() && status->status.ok() && status->leader == self &&
                              status->role == replication::RaftRole::kLeader;
      const NodeId target =
          still_here ? HandOffTarget(*status, self, move.target) : replication::kNoNode;
      if (target == replication::kNoNode) {  // moved, gone, failed, or nobody to take it
        it = moving.erase(it);
        continue;
      }
      if (now >= move.ask_at) {
        // The outcome shows in the group's status; a refusal is re-asked.
        host_->TransferLeadership(it->first, target, [](absl::Status) {});
        move.ask_at = now + retry_after;
        move.target = target;
      }
      ++it;
    }
    if (moving.empty() || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(poll);
  }
  if (moving.empty()) return absl::OkStatus();
  std::vector<GroupId> left;
  for (const auto& [group, when] : moving) left.push_back(group);
  return absl::DeadlineExceededError(absl::StrCat("node ", self, " still leads ", left.size(),
                                                  " group(s) after ", absl::FormatDuration(timeout),
                                                  ": ", absl::StrJoin(left, ",")));
}

}  // namespace herald::cluster

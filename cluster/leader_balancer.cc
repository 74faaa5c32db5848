// ReplicatedLogStore: leader balancing. Elections put leaders wherever the
// first timer fired, and a node that restarts comes back leading nothing;
// without balancing one node ends up serving most produce traffic. Each
// partition has a preferred leader, replicas[(topic id + partition) % n],
// which spreads leadership evenly; a leader that is not the preferred one
// hands over (Raft leadership transfer: the target is caught up first, so
// nothing committed is lost; appends in flight fail as outcome unknown and
// idempotent producers retry) once the preferred node is caught up.
#include "cluster/replicated_log_store.h"
#include "cluster/replicated_log_store_internal.h"

namespace herald::cluster {

using replication::NodeId;

int ReplicatedLogStore::BalanceLeadersOnce() {
  const NodeId self = static_cast<NodeId>(options_.node_id);
  std::vector<std::shared_ptr<Log>> logs;
  {
    absl::MutexLock lock(&logs_mu_);
    for (const auto& [group, log] : logs_) {
      if (group != kMetadataGroup) logs.push_back(log);
    }
  }
  int moves = 0;
  for (const std::shared_ptr<Log>& log : logs) {
    if (moves >= options_.max_leader_moves) break;
    auto status = host_->GetGroupStatus(log->group);
    if (!status.ok() || status->leader != self || status->voters.empty()) continue;
    const uint64_t slot =
        (log->key.topic_id + static_cast<uint64_t>(log->key.partition)) % status->voters.size();
    const NodeId preferred = status->voters[slot];
    if (preferred == self) continue;
    auto match = status->match.find(preferred);
    if (match == status->match.end() || match->second < status->commit) continue;  // behind
    host_->TransferLeadership(log->group, preferred, [](absl::Status) {});
    ++moves;
  }
  return moves;
}

void ReplicatedLogStore::BalancerLoop() {
  std::unique_lock<std::mutex> lock(balancer_mu_);
  const auto interval = std::chrono::milliseconds(options_.leader_balance_interval_ms);
  while (!balancer_cv_.wait_for(lock, interval, [&] { return balancer_stop_; })) {
    lock.unlock();
    BalanceLeadersOnce();
    lock.lock();
  }
}

}  // namespace herald::cluster

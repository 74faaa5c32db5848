// ReplicatedLogStore: the metadata log, leader readiness and the applier
// thread (see replicated_log_store.h).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "cluster/metadata_command.h"
#include "cluster/replicated_log_store.h"
#include "cluster/replicated_log_store_internal.h"

namespace herald::cluster {
namespace {

using replication::NodeId;
using Clock = std::chrono::steady_clock;

enum class KeyKind { kLocal, kReplicated, kMixed };

KeyKind Classify(const std::vector<storage::MetadataWrite>& writes) {
  size_t replicated = 0;
  for (const auto& w : writes) replicated += IsReplicatedMetadataKey(w.key) ? 1 : 0;
  if (replicated == 0) return KeyKind::kLocal;
  return replicated == writes.size() ? KeyKind::kReplicated : KeyKind::kMixed;
}

}  // namespace

// --- metadata writes ---

absl::Status ReplicatedLogStore::WriteMetadata(const std::vector<storage::MetadataWrite>& writes) {
  switch (Classify(writes)) {
    case KeyKind::kLocal:
      return inner_->WriteMetadata(writes);
    case KeyKind::kMixed:
      return absl::InternalError(
          "a metadata write mixes replicated and node-local keys; it cannot be atomic");
    case KeyKind::kReplicated:
      break;
  }
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(options_.metadata_write_timeout_ms);
  auto index = ProposeMetadata(EncodeMetadataProposal(writes, clock_->NowMs()));
  if (!index.ok()) return index.status();
  // Read-your-writes on this node. The applier itself (a listener that
  // writes) must not wait for its own queue.
  if (std::this_thread::get_id() != applier_id_) WaitApplied(*index, deadline);
  return absl::OkStatus();
}

// Proposes on the metadata leader: here, or forwarded. A refusal before
// anything was proposed (no leader yet, the leader moved) is retried until
// the timeout; an unknown outcome is returned as UNAVAILABLE.
absl::StatusOr<uint64_t> ReplicatedLogStore::ProposeMetadata(const std::string& data) {
  const NodeId self = static_cast<NodeId>(options_.node_id);
  const auto timeout = std::chrono::milliseconds(options_.metadata_write_timeout_ms);
  const auto deadline = Clock::now() + timeout;
  absl::Status last = absl::UnavailableError("the metadata log has no leader");
  while (Clock::now() < deadline) {
    auto status = host_->GetGroupStatus(kMetadataGroup);
    if (!status.ok()) return status.status();
    if (!status->status.ok()) return absl::UnavailableError(status->status.message());
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    absl::StatusOr<uint64_t> index = last;
    if (status->leader == self) {
      auto future = host_->Propose(kMetadataGroup, data);
      if (future.wait_for(left) != std::future_status::ready) {
        return absl::UnavailableError("the metadata write did not commit in time; outcome unknown");
      }
      index = future.get();
    } else if (status->leader != replication::kNoNode) {
      index = forwarder_.Forward(status->leader, kMetadataGroup, data, left);
    }
    if (index.ok()) return index;
    last = index.status();
    // Only refusals are safe to retry: nothing was proposed.
    const bool refused = absl::IsFailedPrecondition(last) ||
                         (status->leader == replication::kNoNode && absl::IsUnavailable(last));
    if (!refused) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.tick_ms));
  }
  return absl::UnavailableError(absl::StrCat("metadata write failed: ", last.message(),
                                             " (no leader within ",
                                             options_.metadata_write_timeout_ms, " ms)"));
}

void ReplicatedLogStore::WaitApplied(uint64_t index, Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(apply_mu_);
  apply_cv_.wait_until(lock, deadline, [&] { return meta_applied_ >= index || applier_stop_; });
}

absl::StatusOr<std::optional<std::string>> ReplicatedLogStore::GetMetadata(absl::string_view key) {
  return inner_->GetMetadata(key);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ReplicatedLogStore::ScanMetadata(
    absl::string_view prefix) {
  return inner_->ScanMetadata(prefix);
}

// --- the applier thread ---

void ReplicatedLogStore::Post(Event event) {
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    events_.push_back(std::move(event));
  }
  apply_cv_.notify_all();
}

void ReplicatedLogStore::SetReplicationListener(storage::ReplicationListener* listener) {
  bool start = false;
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    listener_ = listener;
    start = listener != nullptr && !applier_.joinable() && !applier_stop_;
    if (start) {
      applier_ = std::thread([this] { ApplierLoop(); });
      applier_id_ = applier_.get_id();
    }
  }
  apply_cv_.notify_all();
}

void ReplicatedLogStore::ApplierLoop() {
  std::unique_lock<std::mutex> lock(apply_mu_);
  for (;;) {
    apply_cv_.wait(lock, [&] { return applier_stop_ || !events_.empty(); });
    if (applier_stop_) return;
    Event event = std::move(events_.front());
    events_.pop_front();
    lock.unlock();
    if (event.kind == Event::Kind::kMetadata) {
      ApplyMetadataEntry(event.index, event.writes);
    } else if (std::shared_ptr<Log> log = FindGroup(event.group); log != nullptr) {
      MarkLeaderReady(log, event.term);
    }
    lock.lock();
  }
}

// Idempotent: a crash between the write and the next entry re-applies the
// same writes, and the applied index goes in the same atomic write.
void ReplicatedLogStore::ApplyMetadataEntry(uint64_t index,
                                            const std::vector<storage::MetadataWrite>& writes) {
  std::vector<storage::MetadataWrite> all = writes;
  all.push_back({kMetadataAppliedKey, absl::StrCat(index)});
  absl::Status s = inner_->WriteMetadata(all);
  storage::ReplicationListener* listener = nullptr;
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    if (s.ok()) meta_applied_ = std::max(meta_applied_, index);
    listener = listener_;
  }
  apply_cv_.notify_all();
  if (!s.ok() || listener == nullptr || writes.empty()) return;
  std::vector<std::string> keys;
  for (const auto& w : writes) keys.push_back(w.key);
  listener->OnMetadataApplied(keys);
}

// A no-op of `term` was applied: if this node still leads in that term,
// every earlier entry is applied too, so leader-only state can be rebuilt.
// The host publishes status once per loop pass: wait for it to show `term`.
void ReplicatedLogStore::MarkLeaderReady(const std::shared_ptr<Log>& log, uint64_t term) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(20 * options_.tick_ms);
  for (;;) {
    auto status = host_->GetGroupStatus(log->group);
    if (!status.ok() || status->term > term) return;  // removed, or a newer term
    if (status->term == term) {
      if (status->leader != static_cast<NodeId>(options_.node_id)) return;
      break;
    }
    if (Clock::now() > deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  storage::ReplicationListener* listener = nullptr;
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    listener = listener_;
  }
  if (listener != nullptr && log->group != kMetadataGroup) listener->OnLeaderReady(log->key);
  if (listener != nullptr && log->group == kMetadataGroup) listener->OnControllerReady();
  log->ready_term.store(term);
}

// --- cluster view ---

storage::ReplicaState ReplicatedLogStore::ReplicaOf(const Log& log,
                                                    const replication::GroupStatus& status) const {
  storage::ReplicaState r;
  const NodeId self = static_cast<NodeId>(options_.node_id);
  r.leader = status.leader == replication::kNoNode ? -1 : static_cast<int32_t>(status.leader);
  if (auto it = options_.nodes.find(r.leader); it != options_.nodes.end()) {
    r.leader_address = it->second.client;
  }
  r.leader_epoch = static_cast<int64_t>(status.term);
  r.local_is_leader = status.leader == self && log.ready_term.load() == status.term;
  for (NodeId voter : status.voters) {
    r.replicas.push_back(static_cast<int32_t>(voter));
    auto match = status.match.find(voter);
    if (match == status.match.end()) continue;  // not the leader
    // In sync: holds every committed entry and is alive (an idle group's
    // dead follower keeps a current match).
    const bool alive = std::find(status.unreachable.begin(), status.unreachable.end(), voter) ==
                       status.unreachable.end();
    if (match->second >= status.commit && alive) {
      r.in_sync_replicas.push_back(static_cast<int32_t>(voter));
    }
    const int64_t lag = static_cast<int64_t>(status.commit) - static_cast<int64_t>(match->second);
    r.replica_lag_entries.emplace_back(static_cast<int32_t>(voter), std::max<int64_t>(lag, 0));
  }
  return r;
}

std::optional<storage::ReplicaState> ReplicatedLogStore::Replica(storage::PartitionKey key) {
  std::shared_ptr<Log> log = key.topic_id == 0 ? nullptr : Find(key);
  if (log == nullptr) return std::nullopt;
  auto status = host_->GetGroupStatus(log->group);
  if (!status.ok()) return std::nullopt;
  return ReplicaOf(*log, *status);
}

std::optional<storage::ReplicaState> ReplicatedLogStore::MetadataReplica() {
  std::shared_ptr<Log> log = FindGroup(kMetadataGroup);
  if (log == nullptr) return std::nullopt;
  auto status = host_->GetGroupStatus(kMetadataGroup);
  if (!status.ok()) return std::nullopt;
  return ReplicaOf(*log, *status);
}

std::vector<storage::ClusterNode> ReplicatedLogStore::Nodes() {
  std::vector<storage::ClusterNode> out;
  for (const auto& [id, addresses] : options_.nodes) out.push_back({id, addresses.client});
  return out;
}

}  // namespace herald::cluster

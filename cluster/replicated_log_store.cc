#include "cluster/replicated_log_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cluster/metadata_command.h"
#include "cluster/replicated_log_store_internal.h"
#include "replication/partition_raft_log.h"

namespace herald::cluster {
namespace {

using replication::GroupId;
using replication::NodeId;

std::vector<NodeId> Voters(const ClusterOptions& options) {
  std::vector<NodeId> voters;
  for (const auto& [id, addresses] : options.nodes) voters.push_back(static_cast<NodeId>(id));
  return voters;
}

std::map<NodeId, std::string> RaftPeers(const ClusterOptions& options) {
  std::map<NodeId, std::string> peers;
  for (const auto& [id, addresses] : options.nodes) {
    if (id != options.node_id) peers[static_cast<NodeId>(id)] = addresses.raft;
  }
  return peers;
}

absl::Status Unavailable(const std::string& message) { return absl::UnavailableError(message); }

}  // namespace

ReplicatedLogStore::ReplicatedLogStore(const ClusterOptions& options,
                                       std::unique_ptr<storage::LogStore> inner, Clock* clock)
    : options_(options),
      inner_(std::move(inner)),
      clock_(clock),
      forwarder_(static_cast<NodeId>(options.node_id), RaftPeers(options)) {}

absl::StatusOr<std::unique_ptr<ReplicatedLogStore>> ReplicatedLogStore::Open(
    const ClusterOptions& options, std::unique_ptr<storage::LogStore> inner, Clock* clock) {
  if (auto s = ValidateClusterOptions(options); !s.ok()) return s;
  if (inner == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError("ReplicatedLogStore: inner store and clock are required");
  }
  std::unique_ptr<ReplicatedLogStore> store(
      new ReplicatedLogStore(options, std::move(inner), clock));
  if (auto s = store->Start(); !s.ok()) {
    store->Close();
    return s;
  }
  return store;
}

absl::Status ReplicatedLogStore::Start() {
  const NodeId self = static_cast<NodeId>(options_.node_id);
  const auto timeout = std::chrono::milliseconds(options_.metadata_write_timeout_ms);
  service_ = NewClusterService(
      [this](GroupId group, std::string data) { return host_->Propose(group, std::move(data)); },
      timeout);
  replication::GrpcTransportOptions transport;
  transport.node_id = self;
  transport.listen_address = options_.raft_listen.empty() ? options_.nodes.at(options_.node_id).raft
                                                          : options_.raft_listen;
  transport.peers = RaftPeers(options_);
  transport.extra_services = {service_.get()};
  // Missed heartbeats must be noticed within an election timeout.
  transport.keepalive_time_ms = 2'000;
  transport.keepalive_timeout_ms = 2'000;
  transport_ = std::make_unique<replication::GrpcTransport>(transport);
  replication::RaftHostOptions host;
  host.node_id = self;
  host.tick_interval = std::chrono::milliseconds(options_.tick_ms);
  host.raft.election_tick = options_.election_ticks;
  host.raft.heartbeat_tick = 1;
  host_ = std::make_unique<replication::RaftHost>(
      host, transport_.get(),
      [this](GroupId group, const replication::Entry& entry) { OnApply(group, entry); });

  auto applied = inner_->GetMetadata(kMetadataAppliedKey);
  if (!applied.ok()) return applied.status();
  uint64_t meta_applied = 0;
  if (applied->has_value() && !absl::SimpleAtoi(**applied, &meta_applied)) {
    return absl::DataLossError(absl::StrCat("malformed ", kMetadataAppliedKey));
  }
  meta_applied_ = meta_applied;
  if (auto s = AddLog(kMetadataPartition, meta_applied); !s.ok()) return s;
  for (const storage::PartitionKey& key : inner_->ListPartitions()) {
    if (key.topic_id == 0) continue;
    if (auto s = AddLog(key, 0); !s.ok()) return s;
  }
  host_->Start();
  if (auto s = transport_->Start(); !s.ok()) return s;
  if (options_.leader_balance_interval_ms > 0) balancer_ = std::thread([this] { BalancerLoop(); });
  return absl::OkStatus();
}

ReplicatedLogStore::~ReplicatedLogStore() { Close(); }

void ReplicatedLogStore::Close() {
  {
    std::lock_guard<std::mutex> lock(close_mu_);
    if (closed_) return;
    closed_ = true;
  }
  {
    std::lock_guard<std::mutex> lock(balancer_mu_);
    balancer_stop_ = true;
  }
  balancer_cv_.notify_all();
  if (balancer_.joinable()) balancer_.join();
  // The transport first: its handler points at the host. Then the host
  // (fails pending appends with UNAVAILABLE), the applier, the disk.
  if (transport_ != nullptr) transport_->Stop();
  if (host_ != nullptr) host_->Stop();
  {
    std::lock_guard<std::mutex> lock(apply_mu_);
    applier_stop_ = true;
  }
  apply_cv_.notify_all();
  if (applier_.joinable()) applier_.join();
  inner_->Close();
}

// --- partitions ---

absl::Status ReplicatedLogStore::AddLog(storage::PartitionKey key, uint64_t applied_floor) {
  if (Find(key) != nullptr) return absl::OkStatus();
  absl::StatusOr<GroupId> group = key == kMetadataPartition
                                      ? absl::StatusOr<GroupId>(kMetadataGroup)
                                      : replication::PartitionGroupId(key);
  if (!group.ok()) return group.status();
  auto storage = replication::PartitionRaftStorage::Open(inner_.get(), key);
  if (!storage.ok()) return storage.status();
  auto log = std::make_shared<Log>();
  log->key = key;
  log->group = *group;
  log->storage = *storage;
  // Everything up to the durable commit index is committed: the high
  // watermark starts there and those entries are not applied again. (The
  // metadata log re-applies from what it recorded as applied.)
  const replication::PartitionRaftLog& plog = (*storage)->partition_log();
  const uint64_t committed = std::max(plog.InitialHardState().commit, plog.Snapshot().index);
  auto end = plog.EndOffset(committed);
  if (!end.ok()) return end.status();
  log->committed_end.store(*end);
  const uint64_t applied = key == kMetadataPartition ? applied_floor : committed;
  {
    absl::MutexLock lock(&logs_mu_);
    logs_[*group] = log;
  }
  replication::GroupOptions options;
  options.group = *group;
  options.voters = Voters(options_);
  options.storage = *storage;
  options.applied = std::min(applied, committed);
  absl::Status added = host_->AddGroup(options);
  if (!added.ok()) {
    absl::MutexLock lock(&logs_mu_);
    logs_.erase(*group);
  }
  return added;
}

std::shared_ptr<ReplicatedLogStore::Log> ReplicatedLogStore::FindGroup(GroupId group) const {
  absl::MutexLock lock(&logs_mu_);
  auto it = logs_.find(group);
  return it == logs_.end() ? nullptr : it->second;
}

std::shared_ptr<ReplicatedLogStore::Log> ReplicatedLogStore::Find(storage::PartitionKey key) const {
  if (key == kMetadataPartition) return FindGroup(kMetadataGroup);
  if (key.topic_id == 0) return nullptr;
  auto group = replication::PartitionGroupId(key);
  return group.ok() ? FindGroup(*group) : nullptr;
}

absl::Status ReplicatedLogStore::CreatePartition(storage::PartitionKey key) {
  if (key.topic_id == 0) return absl::InvalidArgumentError("topic id 0 is reserved");
  return AddLog(key, 0);
}

absl::Status ReplicatedLogStore::DeletePartition(storage::PartitionKey key) {
  std::shared_ptr<Log> log = key.topic_id == 0 ? nullptr : Find(key);
  if (log == nullptr) return inner_->DeletePartition(key);
  if (auto s = host_->RemoveGroup(log->group); !s.ok() && !absl::IsNotFound(s)) return s;
  {
    absl::MutexLock lock(&logs_mu_);
    logs_.erase(log->group);
  }
  if (auto s = inner_->DeletePartition(key); !s.ok()) return s;
  return inner_->WriteMetadata({{replication::PartitionRaftLog::HardStateKey(key), std::nullopt},
                                {replication::PartitionRaftLog::SnapshotKey(key), std::nullopt}});
}

std::vector<storage::PartitionKey> ReplicatedLogStore::ListPartitions() {
  std::vector<storage::PartitionKey> out;
  for (const storage::PartitionKey& key : inner_->ListPartitions()) {
    if (key.topic_id != 0) out.push_back(key);
  }
  return out;
}

// --- appends ---

absl::Status ReplicatedLogStore::NotLeader(const std::string& what,
                                           const replication::GroupStatus& status) const {
  if (status.leader == replication::kNoNode) {
    return Unavailable(
        absl::StrCat(what, " has no leader right now (election in progress); retry"));
  }
  auto node = options_.nodes.find(static_cast<int32_t>(status.leader));
  const std::string address = node == options_.nodes.end() ? "" : node->second.client;
  absl::Status s = Unavailable(absl::StrCat("node ", options_.node_id, " is not the leader of ",
                                            what, "; the leader is node ", status.leader,
                                            address.empty() ? "" : " at ", address));
  if (!address.empty()) s.SetPayload(storage::kLeaderAddressPayload, absl::Cord(address));
  return s;
}

void ReplicatedLogStore::Append(storage::AppendRequest request, storage::AppendCallback done) {
  std::shared_ptr<Log> log = Find(request.partition);
  if (log == nullptr || request.partition.topic_id == 0) {
    return done(absl::NotFoundError(absl::StrCat("partition ", request.partition.topic_id, "/",
                                                 request.partition.partition, " does not exist")));
  }
  const std::string what = absl::StrCat("partition ", request.partition.partition, " of topic id ",
                                        request.partition.topic_id);
  auto status = host_->GetGroupStatus(log->group);
  if (!status.ok()) return done(status.status());
  if (!status->status.ok())
    return done(
        Unavailable(absl::StrCat(what, " failed on this node: ", status->status.message())));
  if (status->leader != static_cast<NodeId>(options_.node_id) ||
      status->role != replication::RaftRole::kLeader) {
    return done(NotLeader(what, *status));
  }
  if (log->ready_term.load() != status->term) {
    return done(Unavailable(absl::StrCat(what, ": this node was just elected leader and is still ",
                                         "catching up; retry")));
  }
  const int64_t bytes = static_cast<int64_t>(request.payload.size());
  if (pending_append_bytes_.fetch_add(bytes) + bytes > options_.max_pending_append_bytes) {
    pending_append_bytes_.fetch_sub(bytes);
    return done(absl::ResourceExhaustedError(
        absl::StrCat("more than ", options_.max_pending_append_bytes,
                     " bytes are waiting for replication; retry later")));
  }
  BatchHeader header = request.header;
  header.append_time_ms = clock_->NowMs();
  std::string data = replication::PartitionRaftLog::ProposalData(header, request.payload);
  if (header.max_timestamp_ms == 0) header.max_timestamp_ms = header.append_time_ms;
  // ProposeCallback is a std::function (copyable); the callback is not.
  auto shared_done = std::make_shared<storage::AppendCallback>(std::move(done));
  const auto proposed = std::chrono::steady_clock::now();
  host_->Propose(
      log->group, std::move(data),
      [this, log, header, bytes, shared_done, proposed](absl::StatusOr<uint64_t> index) {
        pending_append_bytes_.fetch_sub(bytes);
        // The host calls back once the entry is committed and
        // applied here: that is the latency a producer waits on.
        if (index.ok()) {
          commit_latency_.Observe(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - proposed).count());
        }
        CompleteAppend(log, header, index, std::move(*shared_done));
      });
}

// On the loop thread, right after the entry was applied (so its offsets
// are in the partition log's index).
void ReplicatedLogStore::CompleteAppend(const std::shared_ptr<Log>& log, const BatchHeader& header,
                                        absl::StatusOr<uint64_t> index,
                                        storage::AppendCallback done) {
  if (!index.ok()) {
    const NodeId hint = replication::LeaderHint(index.status());
    if (hint != replication::kNoNode) {
      replication::GroupStatus status;
      status.leader = hint;
      return done(NotLeader(
          absl::StrCat("partition ", log->key.partition, " of topic id ", log->key.topic_id),
          status));
    }
    return done(index.status());
  }
  auto end = log->storage->partition_log().EndOffset(*index);
  if (!end.ok()) return done(end.status());
  storage::AppendResult result;
  result.base_offset = *end - header.record_count;
  result.append_time_ms = header.append_time_ms;
  done(result);
}

void ReplicatedLogStore::OnApply(GroupId group, const replication::Entry& entry) {
  std::shared_ptr<Log> log = FindGroup(group);
  if (log == nullptr) return;
  if (entry.type == replication::EntryType::kNoop) {
    Event e;
    e.kind = Event::Kind::kNoop;
    e.group = group;
    e.term = entry.term;
    e.index = entry.index;
    Post(std::move(e));
  }
  if (group == kMetadataGroup) {
    if (entry.type != replication::EntryType::kNormal) return;
    auto writes = DecodeMetadataEntry(entry.data);
    Event e;
    e.kind = Event::Kind::kMetadata;
    e.index = entry.index;
    if (writes.ok()) e.writes = *std::move(writes);  // else: applied as empty (counted)
    return Post(std::move(e));
  }
  auto end = log->storage->partition_log().EndOffset(entry.index);
  if (!end.ok()) return;
  log->committed_end.store(*end);
  if (append_listener_) append_listener_(log->key, *end);
}

void ReplicatedLogStore::SetAppendListener(
    std::function<void(storage::PartitionKey, int64_t)> listener) {
  append_listener_ = std::move(listener);
}

// --- reads ---

absl::StatusOr<storage::ReadResult> ReplicatedLogStore::Read(storage::PartitionKey key,
                                                             const storage::ReadOptions& options) {
  std::shared_ptr<Log> log = key.topic_id == 0 ? nullptr : Find(key);
  if (log == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("partition ", key.topic_id, "/", key.partition, " does not exist"));
  }
  const int64_t committed = log->committed_end.load();
  storage::ReadOptions capped = options;
  capped.max_offset = std::min(options.max_offset, committed);
  if (options.start_offset > committed) {
    auto stats = Stats(key);
    if (!stats.ok()) return stats.status();
    return absl::OutOfRangeError(
        absl::StrCat("offset ", options.start_offset, " is out of range: the log holds offsets ",
                     stats->log_start_offset, " to ", stats->log_end_offset));
  }
  auto result = inner_->Read(key, capped);
  if (!result.ok()) return result;
  result->log_end_offset = std::min(result->log_end_offset, committed);
  return result;
}

absl::StatusOr<storage::PartitionStats> ReplicatedLogStore::Stats(storage::PartitionKey key) {
  std::shared_ptr<Log> log = key.topic_id == 0 ? nullptr : Find(key);
  if (log == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("partition ", key.topic_id, "/", key.partition, " does not exist"));
  }
  auto stats = inner_->Stats(key);
  if (!stats.ok()) return stats;
  stats->log_end_offset = std::min(stats->log_end_offset, log->committed_end.load());
  stats->log_start_offset = std::min(stats->log_start_offset, stats->log_end_offset);
  return stats;
}

absl::StatusOr<int64_t> ReplicatedLogStore::OffsetForTimestamp(storage::PartitionKey key,
                                                               int64_t timestamp_ms) {
  std::shared_ptr<Log> log = key.topic_id == 0 ? nullptr : Find(key);
  if (log == nullptr) return absl::NotFoundError("partition does not exist");
  auto offset = inner_->OffsetForTimestamp(key, timestamp_ms);
  if (!offset.ok()) return offset;
  return std::min(*offset, log->committed_end.load());
}

absl::StatusOr<int64_t> ReplicatedLogStore::ApplyRetention(storage::PartitionKey key,
                                                           const storage::RetentionPolicy& policy,
                                                           int64_t now_ms) {
  std::shared_ptr<Log> log = key.topic_id == 0 ? nullptr : Find(key);
  if (log == nullptr) return absl::NotFoundError("partition does not exist");
  auto done = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> result = done->get_future();
  // Compaction goes through the Raft log (never drops an unapplied entry).
  host_->WithStorage(
      log->group,
      [log, policy, now_ms](replication::RaftStorage&, uint64_t applied) {
        replication::PartitionRaftLog& plog = log->storage->partition_log();
        const uint64_t index = plog.RetentionIndex(policy, now_ms, applied);
        if (index <= plog.Snapshot().index) return absl::OkStatus();
        return plog.Compact(index);
      },
      [done](absl::Status s) { done->set_value(std::move(s)); });
  if (absl::Status s = result.get(); !s.ok()) return s;
  auto stats = inner_->Stats(key);
  if (!stats.ok()) return stats.status();
  return stats->log_start_offset;
}

absl::Status ReplicatedLogStore::TruncateSuffix(storage::PartitionKey key, int64_t /*offset*/) {
  return absl::FailedPreconditionError(
      absl::StrCat("partition ", key.topic_id, "/", key.partition,
                   " is replicated: only its Raft log may truncate it"));
}

// The Raft host's numbers are in GetReplicationStats.
std::vector<std::pair<std::string, double>> ReplicatedLogStore::EngineStats() {
  return inner_->EngineStats();
}

}  // namespace herald::cluster

// BrokerImpl: offsets (list, commit, fetch committed), retention, metrics.
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "broker/broker_impl.h"
#include "broker/committed_offsets.h"
#include "broker/positions.h"
#include "common/names.h"

namespace herald::broker {

absl::StatusOr<std::vector<ListedOffset>> BrokerImpl::ListOffsets(
    const std::string& topic_name, const std::vector<int32_t>& partitions,
    const StartPosition& position) {
  auto topic = ctx_->registry.Get(topic_name);
  if (!topic.ok()) return topic.status();
  std::vector<int32_t> wanted = partitions;
  if (wanted.empty()) {
    for (int32_t p = 0; p < topic->partition_count; ++p) wanted.push_back(p);
  }
  std::vector<ListedOffset> out;
  for (int32_t p : wanted) {
    if (auto s = CheckPartition(*topic, p); !s.ok()) return s;
    const storage::PartitionKey key = topic->Key(p);
    auto hw = ctx_->monitor.HighWatermark(key);
    if (!hw.ok()) return TopicNotFound(topic_name);
    auto stats = ctx_->store->Stats(key);
    if (!stats.ok()) return stats.status();
    auto offset = ResolveStartPosition(ctx_->store.get(), key, *hw, position);
    if (!offset.ok()) return offset.status();
    ListedOffset lo;
    lo.partition = p;
    lo.offset = *offset;
    if (position.kind == StartPosition::Kind::kTimestamp && *offset < *hw) {
      lo.timestamp_ms = position.value;  // the record found is at or after it
    }
    lo.log_start_offset = stats->log_start_offset;
    lo.high_watermark = *hw;
    out.push_back(lo);
  }
  return out;
}

std::vector<absl::Status> BrokerImpl::CommitOffsets(const std::string& group,
                                                    const std::vector<CommittedOffset>& offsets) {
  return CommitGroupOffsets(group, "", 0, offsets);  // standalone
}

std::vector<absl::Status> BrokerImpl::CommitGroupOffsets(
    const std::string& group, const std::string& member_id, int64_t generation,
    const std::vector<CommittedOffset>& offsets) {
  if (shutting_down_.load()) {
    return std::vector<absl::Status>(offsets.size(),
                                     absl::UnavailableError("broker is shutting down"));
  }
  if (auto s = CheckController("committing consumer-group offsets"); !s.ok()) {
    return std::vector<absl::Status>(offsets.size(), s);
  }
  return groups_->Commit(group, member_id, generation, offsets);
}

std::vector<GroupListing> BrokerImpl::ListGroups() { return groups_->List(); }

absl::StatusOr<GroupDescription> BrokerImpl::DescribeGroup(const std::string& group) {
  if (auto s = CheckController("describing a consumer group"); !s.ok()) return s;
  return groups_->Describe(group);
}

absl::Status BrokerImpl::DeleteGroup(const std::string& group) {
  if (auto s = CheckController("consumer-group administration"); !s.ok()) return s;
  return groups_->Delete(group);
}

absl::StatusOr<std::vector<OffsetReset>> BrokerImpl::ResetGroupOffsets(
    const ResetOffsetsRequest& request) {
  if (auto s = CheckController("consumer-group administration"); !s.ok()) return s;
  return groups_->ResetOffsets(request);
}

std::vector<GroupGauge> BrokerImpl::GroupGauges() { return groups_->Gauges(); }

absl::StatusOr<CommittedOffset> BrokerImpl::ReadCommitted(const std::string& group,
                                                          const TopicState& topic,
                                                          int32_t partition) {
  CommittedOffset out;
  out.topic = topic.name;
  out.partition = partition;
  auto value = ctx_->store->GetMetadata(CommittedOffsetKey(group, topic.topic_id, partition));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return out;  // offset -1: nothing committed
  auto decoded = DecodeCommittedValue(**value);
  if (!decoded) return absl::DataLossError("a committed offset in metadata is corrupt");
  out.offset = decoded->first;
  out.metadata = decoded->second;
  return out;
}

absl::StatusOr<std::vector<CommittedOffset>> BrokerImpl::FetchCommittedOffsets(
    const std::string& group, const std::vector<std::pair<std::string, int32_t>>& partitions) {
  if (auto s = ValidateGroupName(group); !s.ok()) return s;
  std::vector<CommittedOffset> out;
  if (!partitions.empty()) {
    for (const auto& [name, partition] : partitions) {
      auto topic = ctx_->registry.Get(name);
      if (!topic.ok()) return topic.status();
      if (auto s = CheckPartition(*topic, partition); !s.ok()) return s;
      auto c = ReadCommitted(group, *topic, partition);
      if (!c.ok()) return c.status();
      out.push_back(*std::move(c));
    }
    return out;
  }
  auto scanned = ctx_->store->ScanMetadata(CommittedOffsetGroupPrefix(group));
  if (!scanned.ok()) return scanned.status();
  absl::flat_hash_map<uint64_t, std::string> names;
  for (const TopicState& t : ctx_->registry.List()) names[t.topic_id] = t.name;
  for (const auto& [key, value] : *scanned) {
    auto parsed = ParseCommittedOffsetKey(key);
    auto decoded = DecodeCommittedValue(value);
    if (!parsed || !decoded)
      return absl::DataLossError("a committed offset in metadata is corrupt");
    auto name = names.find(parsed->topic_id);
    if (name == names.end()) continue;  // topic deleted; its offsets are going away
    out.push_back({name->second, parsed->partition, decoded->first, decoded->second});
  }
  return out;
}

std::vector<Broker::PartitionGauge> BrokerImpl::PartitionGauges() {
  std::vector<PartitionGauge> out;
  for (const TopicState& t : ctx_->registry.List()) {
    for (int32_t p = 0; p < t.partition_count; ++p) {
      PartitionGauge g;
      g.topic = t.name;
      g.partition = p;
      g.high_watermark = ctx_->monitor.HighWatermark(t.Key(p)).value_or(0);
      if (auto stats = ctx_->store->Stats(t.Key(p)); stats.ok()) {
        g.log_start_offset = stats->log_start_offset;
        g.size_bytes = stats->size_bytes;
      }
      out.push_back(std::move(g));
    }
  }
  return out;
}

std::vector<std::pair<std::string, double>> BrokerImpl::StorageStats() {
  auto stats = ctx_->store->EngineStats();
  size_t subs = 0;
  {
    std::lock_guard<std::mutex> lock(ctx_->subs_mu);
    subs = ctx_->subs.size();
  }
  stats.emplace_back("broker_pending_produce_bytes",
                     static_cast<double>(pending_produce_bytes_.load()));
  stats.emplace_back("broker_subscriptions", static_cast<double>(subs));
  stats.emplace_back("broker_parked_fetches", static_cast<double>(fetcher_.parked()));
  stats.emplace_back("broker_partition_waiters", static_cast<double>(ctx_->monitor.WaiterCount()));
  stats.emplace_back("broker_retention_errors", static_cast<double>(retention_errors_.load()));
  return stats;
}

int64_t BrokerImpl::RunRetentionOnce() {
  int64_t moved = 0;
  const int64_t now_ms = ctx_->options.clock->NowMs();
  for (const TopicState& t : ctx_->registry.List()) {
    const storage::RetentionPolicy policy{t.config.retention_ms, t.config.retention_bytes};
    for (int32_t p = 0; p < t.partition_count; ++p) {
      auto before = ctx_->store->Stats(t.Key(p));
      auto start = ctx_->store->ApplyRetention(t.Key(p), policy, now_ms);
      if (absl::IsNotFound(start.status())) continue;  // deleted meanwhile
      if (!start.ok() || !before.ok()) {
        retention_errors_.fetch_add(1);  // counted in StorageStats; retried next pass
        continue;
      }
      if (*start != before->log_start_offset) ++moved;
    }
  }
  return moved;
}

void BrokerImpl::RetentionLoop() {
  const auto interval = std::chrono::milliseconds(ctx_->options.retention_check_interval_ms);
  std::unique_lock<std::mutex> lock(retention_mu_);
  while (!retention_cv_.wait_for(lock, interval, [this] { return retention_stop_; })) {
    lock.unlock();
    RunRetentionOnce();
    lock.lock();
  }
}

}  // namespace herald::broker

// GroupManager: group admin (list, describe with lag, delete, offset reset).
#include <algorithm>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "broker/committed_offsets.h"
#include "broker/group_manager.h"
#include "broker/positions.h"
#include "common/names.h"

namespace herald::broker {
namespace {

using coordination::TopicPartition;

struct Committed {
  TopicPartition tp;
  storage::PartitionKey key;
  int64_t offset = -1;
  std::string metadata_key;
};

// The group's committed offsets of live topics.
absl::StatusOr<std::vector<Committed>> ScanCommitted(BrokerContext& ctx, const std::string& group) {
  auto scanned = ctx.store->ScanMetadata(CommittedOffsetGroupPrefix(group));
  if (!scanned.ok()) return scanned.status();
  std::vector<Committed> out;
  for (const auto& [key, value] : *scanned) {
    auto parsed = ParseCommittedOffsetKey(key);
    auto decoded = DecodeCommittedValue(value);
    if (!parsed || !decoded)
      return absl::DataLossError("a committed offset in metadata is corrupt");
    const std::string name = ctx.registry.NameOf(parsed->topic_id);
    if (name.empty()) continue;  // topic deleted; its offsets are going away
    out.push_back(
        {{name, parsed->partition}, {parsed->topic_id, parsed->partition}, decoded->first, key});
  }
  return out;
}

}  // namespace

std::vector<GroupListing> GroupManager::List() {
  std::map<std::string, GroupListing> groups;
  for (const coordination::GroupListing& g : Coordinator()->List()) {
    groups[g.group] = {g.group, std::string(coordination::GroupStateName(g.state)), g.members};
  }
  // Groups that only ever committed (standalone) exist through their offsets.
  if (auto scanned = ctx_->store->ScanMetadata(kCommittedOffsetPrefix); scanned.ok()) {
    for (const auto& [key, value] : *scanned) {
      auto parsed = ParseCommittedOffsetKey(key);
      if (parsed && !groups.count(parsed->group)) {
        groups[parsed->group] = {parsed->group, "EMPTY", 0};
      }
    }
  }
  std::vector<GroupListing> out;
  for (auto& [name, listing] : groups) out.push_back(std::move(listing));
  return out;
}

absl::StatusOr<GroupDescription> GroupManager::Describe(const std::string& group) {
  if (auto s = ValidateGroupName(group); !s.ok()) return s;
  const coordination::GroupDescription d = Coordinator()->Describe(group);
  auto committed = ScanCommitted(*ctx_, group);
  if (!committed.ok()) return committed.status();
  if (d.state == coordination::GroupState::kDead && committed->empty()) {
    return absl::NotFoundError(absl::StrCat("consumer group \"", group, "\" does not exist"));
  }
  GroupDescription out;
  out.group = group;
  out.state = d.state == coordination::GroupState::kDead
                  ? "EMPTY"
                  : std::string(coordination::GroupStateName(d.state));
  out.generation = d.generation;
  out.strategy = std::string(coordination::StrategyName(d.strategy));
  std::map<TopicPartition, GroupDescription::PartitionLag> lags;
  for (const coordination::MemberDescription& m : d.members) {
    GroupDescription::Member member{m.member_id, m.instance_id, m.client_id, m.host,
                                    m.connected, m.generation,  {}};
    for (const TopicPartition& tp : m.owned) {
      member.assignment.push_back({tp.topic, tp.partition});
      auto& lag = lags[tp];
      lag.owner_member_id = m.member_id;
    }
    out.members.push_back(std::move(member));
  }
  for (const Committed& c : *committed) lags[c.tp].committed_offset = c.offset;
  for (auto& [tp, lag] : lags) {
    lag.topic = tp.topic;
    lag.partition = tp.partition;
    auto topic = ctx_->registry.Get(tp.topic);
    if (!topic.ok() || tp.partition >= topic->partition_count) continue;
    const storage::PartitionKey key = topic->Key(tp.partition);
    lag.high_watermark = ctx_->monitor.HighWatermark(key).value_or(0);
    int64_t from = lag.committed_offset;
    if (from < 0) {
      auto stats = ctx_->store->Stats(key);
      from = stats.ok() ? stats->log_start_offset : 0;
    }
    lag.lag = std::max<int64_t>(0, lag.high_watermark - from);
    out.partitions.push_back(lag);
  }
  return out;
}

absl::Status GroupManager::Delete(const std::string& group) {
  if (auto s = ValidateGroupName(group); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return absl::UnavailableError("broker is shutting down");
  const absl::Status deleted = Coordinator()->Delete(group);
  if (!deleted.ok() && !absl::IsNotFound(deleted)) return deleted;
  auto scanned = ctx_->store->ScanMetadata(CommittedOffsetGroupPrefix(group));
  if (!scanned.ok()) return scanned.status();
  if (absl::IsNotFound(deleted) && scanned->empty()) return deleted;
  std::vector<storage::MetadataWrite> writes;
  for (const auto& [key, value] : *scanned) writes.push_back({key, std::nullopt});
  if (writes.empty()) return absl::OkStatus();
  return ctx_->store->WriteMetadata(writes);
}

absl::StatusOr<std::vector<OffsetReset>> GroupManager::ResetOffsets(
    const ResetOffsetsRequest& request) {
  if (auto s = ValidateGroupName(request.group); !s.ok()) return s;
  auto topic = ctx_->registry.Get(request.topic);
  if (!topic.ok()) return topic.status();
  std::vector<int32_t> wanted = request.partitions;
  if (wanted.empty()) {
    for (int32_t p = 0; p < topic->partition_count; ++p) wanted.push_back(p);
  }
  // Under mu_: no member can join (and read the old offsets) meanwhile.
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return absl::UnavailableError("broker is shutting down");
  if (!Coordinator()->Describe(request.group).members.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("consumer group \"", request.group,
                     "\" has active members; stop its consumers before resetting offsets"));
  }
  std::vector<OffsetReset> out;
  std::vector<storage::MetadataWrite> writes;
  for (int32_t p : wanted) {
    if (p < 0 || p >= topic->partition_count) {
      return absl::NotFoundError(absl::StrCat("topic \"", request.topic, "\" has ",
                                              topic->partition_count, " partitions; partition ", p,
                                              " does not exist"));
    }
    const storage::PartitionKey key = topic->Key(p);
    auto hw = ctx_->monitor.HighWatermark(key);
    auto stats = ctx_->store->Stats(key);
    auto previous = ReadCommitted(request.group, key);
    if (!hw.ok()) return hw.status();
    if (!stats.ok()) return stats.status();
    if (!previous.ok()) return previous.status();
    int64_t next = 0;
    if (request.position.has_value()) {
      auto resolved = ResolveStartPosition(ctx_->store.get(), key, *hw, *request.position);
      if (!resolved.ok()) return resolved.status();
      next = *resolved;
    } else {
      // No committed offset: shift from the log start.
      const int64_t base = *previous >= 0 ? *previous : stats->log_start_offset;
      next = std::clamp(base + request.shift_by, std::min(stats->log_start_offset, *hw), *hw);
    }
    out.push_back({request.topic, p, *previous, next});
    writes.push_back({CommittedOffsetKey(request.group, key.topic_id, key.partition),
                      EncodeCommittedValue(next, "")});
  }
  if (!request.dry_run && !writes.empty()) {
    if (auto s = ctx_->store->WriteMetadata(writes); !s.ok()) return s;
  }
  return out;
}

}  // namespace herald::broker

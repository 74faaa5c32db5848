// GroupManager: membership, event routing, the tick thread and commits.
// Group admin (list, describe, delete, reset) is in group_admin.cc.
#include "broker/group_manager.h"

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "broker/committed_offsets.h"
#include "broker/positions.h"
#include "broker/subscription.h"
#include "common/names.h"

namespace herald::broker {
namespace {

using coordination::MemberEvent;
using coordination::PartitionSet;
using coordination::TopicPartition;

absl::Status Stopped() { return absl::UnavailableError("broker is shutting down"); }

std::vector<GroupPartition> ToGroupPartitions(const PartitionSet& parts) {
  std::vector<GroupPartition> out;
  for (const TopicPartition& tp : parts) out.push_back({tp.topic, tp.partition});
  return out;
}

std::optional<coordination::AssignmentStrategy> ToStrategy(GroupStrategy s) {
  switch (s) {
    case GroupStrategy::kSticky:
      return coordination::AssignmentStrategy::kSticky;
    case GroupStrategy::kRange:
      return coordination::AssignmentStrategy::kRange;
    case GroupStrategy::kRoundRobin:
      return coordination::AssignmentStrategy::kRoundRobin;
    case GroupStrategy::kDefault:
      break;
  }
  return std::nullopt;
}

// The Subscription a group member gets: reads go to its SubscriptionCore,
// membership calls to the GroupManager. Closing it leaves the group.
class GroupSubscriptionHandle final : public Subscription {
 public:
  GroupSubscriptionHandle(std::shared_ptr<SubscriptionCore> core,
                          std::shared_ptr<GroupManager> groups, std::string group,
                          std::string member_id)
      : core_(std::move(core)),
        groups_(std::move(groups)),
        group_(std::move(group)),
        member_id_(std::move(member_id)) {}
  ~GroupSubscriptionHandle() override { Close(); }

  void AddCredit(int64_t records, int64_t bytes) override {
    core_->AddCredit(records, bytes);
    // Credit is a sign of life. An unknown member (fenced) gets its
    // OnError through the subscription; nothing to report here.
    groups_->Heartbeat(group_, member_id_).IgnoreError();
  }
  void DeliveryDone() override { core_->DeliveryDone(); }
  absl::StatusOr<int64_t> Seek(const std::string& topic, int32_t partition,
                               const StartPosition& position) override {
    return core_->Seek(topic, partition, position);
  }
  void Close() override {
    if (closed_.exchange(true)) return;
    core_->Close();  // first: no sink call after this, and none waits on the manager
    groups_->Leave(group_, member_id_);
  }
  absl::Status RevokeDone(int64_t generation,
                          const std::vector<GroupPartition>& partitions) override {
    return groups_->RevokeDone(group_, member_id_, generation, partitions);
  }
  std::vector<absl::Status> Commit(const std::vector<CommittedOffset>& offsets) override {
    return groups_->Commit(group_, member_id_, groups_->Generation(member_id_), offsets);
  }
  absl::Status Heartbeat() override { return groups_->Heartbeat(group_, member_id_); }
  std::string member_id() const override { return member_id_; }

 private:
  const std::shared_ptr<SubscriptionCore> core_;
  const std::shared_ptr<GroupManager> groups_;
  const std::string group_;
  const std::string member_id_;
  std::atomic<bool> closed_{false};
};

coordination::TopicPartitionCounts TopicCounts(const TopicRegistry& registry) {
  coordination::TopicPartitionCounts counts;
  for (const TopicState& t : registry.List()) counts[t.name] = t.partition_count;
  return counts;
}

}  // namespace

GroupManager::GroupManager(std::shared_ptr<BrokerContext> ctx) : ctx_(std::move(ctx)) {}

GroupManager::~GroupManager() { Stop(); }

namespace {

absl::StatusOr<std::unique_ptr<coordination::GroupCoordinator>> OpenCoordinator(
    const BrokerContext& ctx) {
  coordination::GroupCoordinatorOptions options;
  options.default_session_timeout_ms = ctx.options.group_default_session_timeout_ms;
  options.min_session_timeout_ms = ctx.options.group_min_session_timeout_ms;
  options.revoke_timeout_ms = ctx.options.group_revoke_timeout_ms;
  const int64_t now_ms = ctx.options.clock->MonotonicMs();
  auto coordinator = coordination::GroupCoordinator::Open(options, ctx.store.get(), now_ms);
  if (!coordinator.ok()) return coordinator.status();
  // Restored static members have no stream: their events go nowhere.
  (*coordinator)->OnTopicMetadata(TopicCounts(ctx.registry), now_ms);
  return coordinator;
}

}  // namespace

absl::StatusOr<std::shared_ptr<GroupManager>> GroupManager::Open(
    std::shared_ptr<BrokerContext> ctx) {
  auto coordinator = OpenCoordinator(*ctx);
  if (!coordinator.ok()) return coordinator.status();
  std::shared_ptr<GroupManager> manager(new GroupManager(std::move(ctx)));
  manager->coordinator_ = std::shared_ptr<coordination::GroupCoordinator>(*std::move(coordinator));
  return manager;
}

absl::Status GroupManager::Reload() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return absl::UnavailableError("groups are stopped");
  if (!routes_.empty()) {
    return absl::FailedPreconditionError("members are connected here; keeping the live state");
  }
  auto coordinator = OpenCoordinator(*ctx_);
  if (!coordinator.ok()) return coordinator.status();
  std::atomic_store(&coordinator_,
                    std::shared_ptr<coordination::GroupCoordinator>(*std::move(coordinator)));
  return absl::OkStatus();
}

void GroupManager::Start() {
  std::lock_guard<std::mutex> lock(tick_mu_);
  if (tick_thread_.joinable() || tick_stop_) return;
  tick_thread_ = std::thread([this] { TickLoop(); });
}

void GroupManager::Stop() {
  {
    std::lock_guard<std::mutex> lock(tick_mu_);
    tick_stop_ = true;
  }
  tick_cv_.notify_all();
  if (tick_thread_.joinable() && tick_thread_.get_id() != std::this_thread::get_id()) {
    tick_thread_.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
}

void GroupManager::TickLoop() {
  const auto interval = std::chrono::milliseconds(ctx_->options.group_tick_interval_ms);
  std::unique_lock<std::mutex> lock(tick_mu_);
  while (!tick_cv_.wait_for(lock, interval, [this] { return tick_stop_; })) {
    lock.unlock();
    TickOnce();
    lock.lock();
  }
}

void GroupManager::TickOnce() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  RouteLocked(Coordinator()->Tick(NowMs()));
}

void GroupManager::OnTopicsChanged() {
  const coordination::TopicPartitionCounts counts = TopicCounts(ctx_->registry);
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  RouteLocked(Coordinator()->OnTopicMetadata(counts, NowMs()));
}

absl::StatusOr<std::unique_ptr<Subscription>> GroupManager::Subscribe(
    const SubscribeOptions& options, SubscriptionSink* sink) {
  if (sink == nullptr) return absl::InvalidArgumentError("subscription sink is null");
  if (auto s = ValidateGroupName(options.group); !s.ok()) return s;
  if (!options.partitions.empty()) {
    return absl::InvalidArgumentError(
        "a group subscription names topics or a topic pattern, not partitions: the group "
        "assigns partitions");
  }
  if (options.topics.empty() && options.topic_pattern.empty()) {
    return absl::InvalidArgumentError("a group subscription needs topics or a topic pattern");
  }
  if (options.reset.kind == StartPosition::Kind::kCommitted) {
    return absl::InvalidArgumentError("reset must be EARLIEST or LATEST (or an offset/timestamp)");
  }
  coordination::JoinOptions join;
  join.instance_id = options.instance_id;
  join.client_id = options.client_id;
  join.host = options.host;
  join.topics = options.topics;
  join.topic_regex = options.topic_pattern;
  join.strategy = ToStrategy(options.strategy);
  join.session_timeout_ms = options.session_timeout_ms;

  auto core = std::make_shared<SubscriptionCore>(ctx_, sink, options, std::vector<std::string>());
  {
    std::lock_guard<std::mutex> lock(ctx_->subs_mu);
    if (ctx_->subs_closed) return Stopped();
    ctx_->subs[core.get()] = core;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto joined = stopped_ ? absl::StatusOr<coordination::JoinResult>(Stopped())
                         : Coordinator()->Join(options.group, join, NowMs());
  if (!joined.ok()) {
    core->Close();  // never started: only unregisters it from ctx_->subs
    return joined.status();
  }
  Route& route = routes_[joined->member_id];
  route.group = options.group;
  route.core = core;
  route.reset = options.reset;
  route.generation = joined->generation;
  RouteLocked(joined->events);
  return std::unique_ptr<Subscription>(std::make_unique<GroupSubscriptionHandle>(
      core, shared_from_this(), options.group, joined->member_id));
}

void GroupManager::RouteLocked(const std::vector<MemberEvent>& events) {
  for (const MemberEvent& event : events) {
    auto it = routes_.find(event.member_id);
    if (it == routes_.end()) continue;  // a reserved static member: no stream
    std::shared_ptr<SubscriptionCore> core = it->second.core.lock();
    if (core == nullptr) {
      routes_.erase(it);
      continue;
    }
    switch (event.kind) {
      case MemberEvent::Kind::kAssign:
        ApplyAssignLocked(it->second, *core, event);
        break;
      case MemberEvent::Kind::kRevoke:
        ApplyRevokeLocked(it->second, *core, event);
        break;
      case MemberEvent::Kind::kFenced:
        core->Fail(absl::AbortedError(
            absl::StrCat("member ", event.member_id, " of group \"", event.group,
                         "\" was fenced (session expired or replaced by a newer instance)")));
        routes_.erase(it);
        break;
    }
  }
}

void GroupManager::ApplyAssignLocked(Route& route, SubscriptionCore& core,
                                     const MemberEvent& event) {
  // The Assignment is the complete set: drop what is not in it first.
  std::vector<storage::PartitionKey> removed;
  for (auto it = route.owned.begin(); it != route.owned.end();) {
    if (event.partitions.count(it->first) != 0) {
      ++it;
      continue;
    }
    removed.push_back(it->second);
    it = route.owned.erase(it);
  }
  if (!removed.empty()) core.RemovePartitions(removed);
  route.generation = event.generation;
  // Announced before any of the new partitions' batches can be read.
  SubscriptionCore::Control control;
  control.assignment =
      GroupAssignment{event.member_id, event.generation, ToGroupPartitions(event.partitions)};
  core.PushControl(std::move(control));
  std::vector<SubscribedPartition> added;
  for (const TopicPartition& tp : event.partitions) {
    if (route.owned.count(tp) != 0) continue;
    auto topic = ctx_->registry.Get(tp.topic);
    if (!topic.ok() || tp.partition >= topic->partition_count) continue;  // deleted meanwhile
    const storage::PartitionKey key = topic->Key(tp.partition);
    auto hw = ctx_->monitor.HighWatermark(key);
    auto start = hw.ok() ? StartOffset(route.group, key, route.reset) : hw.status();
    if (!start.ok()) continue;  // the topic is going away; metadata catches up
    route.owned[tp] = key;
    added.push_back({tp.topic, tp.partition, key, *start, *hw, false});
  }
  if (!added.empty()) core.AddPartitions(std::move(added)).IgnoreError();  // deleted: dropped
}

void GroupManager::ApplyRevokeLocked(Route& route, SubscriptionCore& core,
                                     const MemberEvent& event) {
  std::vector<storage::PartitionKey> removed;
  for (const TopicPartition& tp : event.partitions) {
    auto it = route.owned.find(tp);
    if (it == route.owned.end()) continue;
    removed.push_back(it->second);
    route.owned.erase(it);
  }
  if (!removed.empty()) core.RemovePartitions(removed);
  SubscriptionCore::Control control;
  control.revoke = GroupRevoke{event.generation, ToGroupPartitions(event.partitions),
                               std::max<int64_t>(0, event.deadline_ms - NowMs())};
  core.PushControl(std::move(control));
}

absl::StatusOr<int64_t> GroupManager::ReadCommitted(const std::string& group,
                                                    storage::PartitionKey key) {
  auto value = ctx_->store->GetMetadata(CommittedOffsetKey(group, key.topic_id, key.partition));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return -1;
  auto decoded = DecodeCommittedValue(**value);
  if (!decoded) return absl::DataLossError("a committed offset in metadata is corrupt");
  return decoded->first;
}

absl::StatusOr<int64_t> GroupManager::StartOffset(const std::string& group,
                                                  storage::PartitionKey key,
                                                  const StartPosition& reset) {
  auto hw = ctx_->monitor.HighWatermark(key);
  if (!hw.ok()) return hw.status();
  auto committed = ReadCommitted(group, key);
  if (!committed.ok()) return committed.status();
  if (*committed >= 0) {
    auto stats = ctx_->store->Stats(key);
    if (!stats.ok()) return stats.status();
    if (*committed >= stats->log_start_offset && *committed <= *hw) return *committed;
    // Retention passed it (or it is beyond the log): `reset` decides.
  }
  auto offset = ResolveStartPosition(ctx_->store.get(), key, *hw, reset);
  if (absl::IsOutOfRange(offset.status())) {
    return ResolveStartPosition(ctx_->store.get(), key, *hw, StartPosition::Earliest());
  }
  return offset;
}

void GroupManager::Leave(const std::string& group, const std::string& member_id) {
  std::lock_guard<std::mutex> lock(mu_);
  routes_.erase(member_id);
  if (stopped_) return;
  auto events = Coordinator()->Leave(group, member_id, NowMs());
  if (events.ok()) RouteLocked(*events);  // NOT_FOUND: already fenced
}

absl::Status GroupManager::RevokeDone(const std::string& group, const std::string& member_id,
                                      int64_t generation,
                                      const std::vector<GroupPartition>& partitions) {
  PartitionSet parts;
  for (const GroupPartition& p : partitions) parts.insert({p.topic, p.partition});
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return Stopped();
  auto events = Coordinator()->RevokeDone(group, member_id, generation, parts, NowMs());
  if (!events.ok()) return events.status();
  RouteLocked(*events);
  return absl::OkStatus();
}

absl::Status GroupManager::Heartbeat(const std::string& group, const std::string& member_id) {
  // No events come from a heartbeat, so no routing and no mu_.
  return Coordinator()->Heartbeat(group, member_id, NowMs());
}

int64_t GroupManager::Generation(const std::string& member_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = routes_.find(member_id);
  return it == routes_.end() ? -1 : it->second.generation;
}

std::vector<absl::Status> GroupManager::Commit(const std::string& group,
                                               const std::string& member_id, int64_t generation,
                                               const std::vector<CommittedOffset>& offsets) {
  if (auto s = ValidateGroupName(group); !s.ok()) {
    return std::vector<absl::Status>(offsets.size(), s);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return std::vector<absl::Status>(offsets.size(), Stopped());
  return CommitLocked(group, member_id, generation, offsets);
}

std::vector<absl::Status> GroupManager::CommitLocked(const std::string& group,
                                                     const std::string& member_id,
                                                     int64_t generation,
                                                     const std::vector<CommittedOffset>& offsets) {
  std::vector<absl::Status> statuses(offsets.size());
  std::vector<storage::PartitionKey> keys(offsets.size());
  PartitionSet parts;
  for (size_t i = 0; i < offsets.size(); ++i) {
    const CommittedOffset& c = offsets[i];
    auto topic = ctx_->registry.Get(c.topic);
    if (!topic.ok()) {
      statuses[i] = topic.status();
      continue;
    }
    if (c.partition < 0 || c.partition >= topic->partition_count) {
      statuses[i] = absl::NotFoundError(
          absl::StrCat("topic \"", c.topic, "\" has ", topic->partition_count,
                       " partitions; partition ", c.partition, " does not exist"));
      continue;
    }
    keys[i] = topic->Key(c.partition);
    const int64_t hw = ctx_->monitor.HighWatermark(keys[i]).value_or(0);
    if (c.offset < 0 || c.offset > hw) {
      statuses[i] = OffsetOutOfRange(c.offset, 0, hw);
      continue;
    }
    parts.insert({c.topic, c.partition});
  }
  if (parts.empty()) return statuses;
  // One verdict for the request: a stale member commits nothing.
  if (auto s = Coordinator()->ValidateCommit(group, member_id, generation, parts, NowMs());
      !s.ok()) {
    for (size_t i = 0; i < offsets.size(); ++i) {
      if (statuses[i].ok()) statuses[i] = s;
    }
    return statuses;
  }
  std::vector<storage::MetadataWrite> writes;
  std::vector<size_t> written;
  std::map<storage::PartitionKey, int64_t> latest;  // within this request
  for (size_t i = 0; i < offsets.size(); ++i) {
    if (!statuses[i].ok()) continue;
    const CommittedOffset& c = offsets[i];
    int64_t previous = -1;
    if (auto it = latest.find(keys[i]); it != latest.end()) {
      previous = it->second;
    } else if (auto read = ReadCommitted(group, keys[i]); read.ok()) {
      previous = *read;
    } else {
      statuses[i] = read.status();
      continue;
    }
    statuses[i] = coordination::CheckOffsetAdvance({c.topic, c.partition}, previous, c.offset,
                                                   /*admin_reset=*/false);
    if (!statuses[i].ok()) continue;
    latest[keys[i]] = c.offset;
    writes.push_back({CommittedOffsetKey(group, keys[i].topic_id, keys[i].partition),
                      EncodeCommittedValue(c.offset, c.metadata)});
    written.push_back(i);
  }
  if (writes.empty()) return statuses;
  // One atomic, synced write for the whole request.
  if (auto s = ctx_->store->WriteMetadata(writes); !s.ok()) {
    for (size_t i : written) statuses[i] = s;
  }
  return statuses;
}

std::vector<GroupGauge> GroupManager::Gauges() {
  std::vector<GroupGauge> out;
  for (const coordination::GroupMetrics& m : Coordinator()->Metrics()) {
    out.push_back({m.group, m.members, m.rebalances});
  }
  return out;
}

}  // namespace herald::broker

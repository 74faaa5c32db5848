// BrokerImpl in cluster mode: reacting to the replicated store's events and
// routing admin work to the controller. On a single-node store none of this
// runs (the store reports no replicas and sends no events).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/broker_impl.h"
#include "broker/subscription.h"

namespace herald::broker {
namespace {

// Producer sequence state is rebuilt from this much of a partition's tail
// when this node becomes its leader (as at startup).
constexpr int64_t kRecoverTailBytesOnLeadership = 4 << 20;

absl::Status ControllerElsewhere(const std::string& what, const storage::ReplicaState& r) {
  if (r.leader < 0) {
    return absl::UnavailableError(
        absl::StrCat(what, " has no leader right now (election in progress); retry"));
  }
  absl::Status s = absl::UnavailableError(absl::StrCat(
      what, " runs on the controller, node ", r.leader,
      r.leader_address.empty() ? "" : absl::StrCat(" at ", r.leader_address), "; retry there"));
  if (!r.leader_address.empty()) {
    s.SetPayload(storage::kLeaderAddressPayload, absl::Cord(r.leader_address));
  }
  return s;
}

}  // namespace

bool BrokerImpl::MaybeForward(storage::AppendRequest& req, const ProduceBatch& batch,
                              ProduceCallback& done) {
  ProduceForwarder* forwarder = forwarder_.load();
  if (forwarder == nullptr || !ctx_->store->replicated()) return false;
  auto replica = ctx_->store->Replica(req.partition);
  if (!replica.has_value() || replica->local_is_leader || replica->leader < 0 ||
      replica->leader == ctx_->options.node_id || replica->leader_address.empty()) {
    return false;  // handled here: appended, or refused with a clear error
  }
  ProduceBatch forward;
  forward.topic = batch.topic;
  forward.partition = req.partition.partition;
  forward.payload = std::move(req.payload);
  forward.acks = batch.acks;
  forward.producer_id = req.header.producer_id;
  forward.producer_epoch = req.header.producer_epoch;
  forward.base_sequence = req.header.base_sequence;
  forward.forwarded = true;
  forwarder->Forward(replica->leader_address, std::move(forward), std::move(done));
  return true;
}

void BrokerImpl::AttachToStore() { ctx_->store->SetReplicationListener(this); }

absl::Status BrokerImpl::CheckController(const std::string& what) const {
  auto controller = ctx_->store->MetadataReplica();
  if (!controller.has_value() || controller->local_is_leader) return absl::OkStatus();
  return ControllerElsewhere(what, *controller);
}

void BrokerImpl::FillReplicas(const TopicState& topic, PartitionInfo* info) const {
  auto replica = ctx_->store->Replica(topic.Key(info->partition));
  if (!replica.has_value()) return;
  info->leader = replica->leader;
  info->replicas = replica->replicas;
  info->in_sync_replicas = replica->in_sync_replicas;
  info->leader_epoch = replica->leader_epoch;
}

std::vector<Broker::PartitionReplicaGauge> BrokerImpl::PartitionReplicaGauges() {
  std::vector<PartitionReplicaGauge> out;
  if (!ctx_->store->replicated()) return out;
  for (const TopicState& t : ctx_->registry.List()) {
    for (int32_t p = 0; p < t.partition_count; ++p) {
      auto replica = ctx_->store->Replica(t.Key(p));
      if (replica.has_value()) out.push_back({t.name, p, *std::move(replica)});
    }
  }
  return out;
}

std::optional<storage::ReplicationStats> BrokerImpl::GetReplicationStats() {
  return ctx_->store->GetReplicationStats();
}

absl::Status BrokerImpl::HandOffLeadership(int64_t timeout_ms) {
  return ctx_->store->HandOffLeadership(timeout_ms);
}

void BrokerImpl::NotifyTopicGrew(const TopicState& before, const TopicState& after) {
  std::vector<std::shared_ptr<SubscriptionCore>> subs;
  {
    std::lock_guard<std::mutex> lock(ctx_->subs_mu);
    for (auto& [ptr, weak] : ctx_->subs) {
      if (auto sub = weak.lock()) subs.push_back(std::move(sub));
    }
  }
  for (auto& sub : subs) {
    sub->OnTopicGrew(after.name, after.topic_id, before.partition_count, after.partition_count);
  }
}

// Another node (or this one) changed replicated metadata: bring the cached
// topics in line. Committed offsets and group state are read from the
// store when needed, so they need nothing here.
void BrokerImpl::OnMetadataApplied(const std::vector<std::string>& keys) {
  bool topics_changed = false;
  for (const std::string& key : keys) {
    if (!absl::StartsWith(key, "topic/")) continue;
    auto track = [this](const TopicState& t) {
      for (int32_t p = 0; p < t.partition_count; ++p) ctx_->monitor.AddPartition(t.Key(p), 0);
    };
    auto change = ctx_->registry.Refresh(key.substr(6), track);
    if (!change.ok()) continue;  // the next write of this topic retries
    const auto& before = change->before;
    const auto& after = change->after;
    if (before.has_value() && !after.has_value()) {
      for (int32_t p = 0; p < before->partition_count; ++p) {
        ctx_->monitor.RemovePartition(before->Key(p));
        idempotence_->state()->ForgetPartition(before->Key(p));
      }
    } else if (before.has_value() && after.has_value() &&
               after->partition_count > before->partition_count) {
      NotifyTopicGrew(*before, *after);
    }
    const bool appeared_or_went = before.has_value() != after.has_value();
    const bool grew = before.has_value() && after.has_value() &&
                      after->partition_count != before->partition_count;
    topics_changed = topics_changed || appeared_or_went || grew;
  }
  if (topics_changed) groups_->OnTopicsChanged();
}

// This node leads `key` now, with every earlier entry applied: its producer
// sequences come from the log (what the previous leader acknowledged), so
// retries of batches it wrote are recognised as duplicates.
void BrokerImpl::OnLeaderReady(storage::PartitionKey key) {
  std::lock_guard<std::mutex> lock(partition_locks_.For(key));
  idempotence_->state()->ForgetPartition(key);
  (void)RecoverProducerState(ctx_->store.get(), idempotence_->state(), {key},
                             kRecoverTailBytesOnLeadership);
}

// The previous controller coordinated the groups; its persisted state
// (generations, static members) is in the replicated metadata.
void BrokerImpl::OnControllerReady() { (void)groups_->Reload(); }

}  // namespace herald::broker

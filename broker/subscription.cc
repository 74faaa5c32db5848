#include "broker/subscription.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "broker/positions.h"

namespace herald::broker {
namespace {

// Credit arithmetic saturates instead of overflowing on absurd grants.
int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
  return a + b;
}

}  // namespace

SubscriptionCore::SubscriptionCore(std::shared_ptr<BrokerContext> ctx, SubscriptionSink* sink,
                                   const SubscribeOptions& options,
                                   std::vector<std::string> whole_topics)
    : ctx_(std::move(ctx)),
      sink_(sink),
      max_delivery_bytes_(options.max_delivery_bytes > 0 ? options.max_delivery_bytes
                                                         : ctx_->options.max_delivery_bytes),
      whole_topics_(std::move(whole_topics)),
      group_mode_(!options.group.empty()),
      credit_records_(options.initial_credit_records),
      credit_bytes_(options.initial_credit_bytes) {}

absl::Status SubscriptionCore::AddPartitions(std::vector<SubscribedPartition> parts) {
  std::vector<storage::PartitionKey> keys;
  {
    // Added before registering so that a growth reported right after the
    // registration finds its partition.
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return absl::OkStatus();
    for (SubscribedPartition& p : parts) {
      if (index_.contains(p.key)) continue;
      index_[p.key] = parts_.size();
      keys.push_back(p.key);
      parts_.push_back(std::move(p));
    }
  }
  for (const storage::PartitionKey& key : keys) {
    auto hw = ctx_->monitor.Register(key, this);
    if (!hw.ok()) return hw.status();
    std::lock_guard<std::mutex> lock(mu_);
    SubscribedPartition& p = parts_[index_[key]];
    p.high_watermark = std::max(p.high_watermark, *hw);
  }
  std::lock_guard<std::mutex> lock(mu_);
  MaybeScheduleLocked(false);
  return absl::OkStatus();
}

void SubscriptionCore::OnTopicGrew(const std::string& topic, uint64_t topic_id, int32_t from,
                                   int32_t to) {
  if (std::find(whole_topics_.begin(), whole_topics_.end(), topic) == whole_topics_.end()) return;
  std::vector<SubscribedPartition> parts;
  for (int32_t p = from; p < to; ++p) {
    // New partitions are read from their start so no record is skipped.
    parts.push_back({topic, p, {topic_id, p}, 0, 0, false});
  }
  if (auto s = AddPartitions(std::move(parts)); !s.ok()) Fail(s);
}

void SubscriptionCore::AddCredit(int64_t records, int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  credit_records_ = SaturatingAdd(credit_records_, records);
  credit_bytes_ = SaturatingAdd(credit_bytes_, bytes);
  MaybeScheduleLocked(false);
}

void SubscriptionCore::DeliveryDone() {
  std::lock_guard<std::mutex> lock(mu_);
  outstanding_ = false;
  MaybeScheduleLocked(false);
}

absl::StatusOr<int64_t> SubscriptionCore::Seek(const std::string& topic, int32_t partition,
                                               const StartPosition& position) {
  storage::PartitionKey key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(parts_.begin(), parts_.end(), [&](const SubscribedPartition& p) {
      return p.topic == topic && p.partition == partition;
    });
    if (it == parts_.end()) {
      return absl::NotFoundError(absl::StrCat("partition ", partition, " of topic \"", topic,
                                              "\" is not part of this subscription"));
    }
    key = it->key;
  }
  auto hw = ctx_->monitor.HighWatermark(key);
  if (!hw.ok()) return absl::NotFoundError(absl::StrCat("topic \"", topic, "\" was deleted"));
  auto offset = ResolveStartPosition(ctx_->store.get(), key, *hw, position);
  if (!offset.ok()) return offset.status();
  std::lock_guard<std::mutex> lock(mu_);
  SubscribedPartition& p = parts_[index_[key]];
  p.next_offset = *offset;
  p.high_watermark = std::max(p.high_watermark, *hw);
  ++seek_epoch_;  // a read in flight started from the old position
  MaybeScheduleLocked(false);
  return *offset;
}

void SubscriptionCore::Close() {
  std::vector<storage::PartitionKey> keys;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    // Close from inside a sink call breaks the contract; rather than wait
    // for ourselves forever, return: closed_ already stops further calls.
    if (delivering_thread_ != std::this_thread::get_id()) {
      idle_cv_.wait(lock, [this] { return !delivering_; });
    }
    for (const SubscribedPartition& p : parts_) keys.push_back(p.key);
  }
  for (const storage::PartitionKey& key : keys) ctx_->monitor.Unregister(key, this);
  std::lock_guard<std::mutex> lock(ctx_->subs_mu);
  ctx_->subs.erase(this);
}

void SubscriptionCore::Fail(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending_error_ && !ended_) pending_error_ = std::move(status);
  MaybeScheduleLocked(false);
}

void SubscriptionCore::Kick() {
  std::lock_guard<std::mutex> lock(mu_);
  MaybeScheduleLocked(false);
}

void SubscriptionCore::OnGrowth(storage::PartitionKey key, int64_t high_watermark) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return;
  SubscribedPartition& p = parts_[it->second];
  p.high_watermark = std::max(p.high_watermark, high_watermark);
  MaybeScheduleLocked(p.next_offset < p.high_watermark);
}

void SubscriptionCore::OnDeleted(storage::PartitionKey key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return;
  SubscribedPartition& p = parts_[it->second];
  p.deleted = true;
  // A group member loses the partition through the coordinator instead.
  if (group_mode_) return;
  if (!pending_error_ && !ended_) {
    pending_error_ = absl::NotFoundError(absl::StrCat("topic \"", p.topic, "\" was deleted"));
  }
  MaybeScheduleLocked(false);
}

bool SubscriptionCore::HasDataLocked() const {
  for (const SubscribedPartition& p : parts_) {
    if (!p.deleted && p.next_offset < p.high_watermark) return true;
  }
  return false;
}

void SubscriptionCore::PushControl(Control control) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_ || ended_) return;
  if (controls_.size() >= kMaxControlEvents) {
    if (!pending_error_) {
      pending_error_ = absl::ResourceExhaustedError("too many undelivered group events");
    }
  } else {
    controls_.push_back(std::move(control));
  }
  MaybeScheduleLocked(false);
}

void SubscriptionCore::RemovePartitions(const std::vector<storage::PartitionKey>& keys) {
  std::vector<storage::PartitionKey> removed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<SubscribedPartition> kept;
    for (SubscribedPartition& p : parts_) {
      if (std::find(keys.begin(), keys.end(), p.key) != keys.end()) {
        removed.push_back(p.key);
      } else {
        kept.push_back(std::move(p));
      }
    }
    if (removed.empty()) return;
    parts_ = std::move(kept);
    index_.clear();
    for (size_t i = 0; i < parts_.size(); ++i) index_[parts_[i].key] = i;
    cursor_ = 0;
    ++seek_epoch_;  // a read in flight may hold data of a removed partition
  }
  for (const storage::PartitionKey& key : removed) ctx_->monitor.Unregister(key, this);
}

std::vector<storage::PartitionKey> SubscriptionCore::Keys() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<storage::PartitionKey> out;
  for (const SubscribedPartition& p : parts_) out.push_back(p.key);
  return out;
}

void SubscriptionCore::MaybeScheduleLocked(bool known_data) {
  if (closed_ || ended_ || scheduled_) return;
  if (!pending_error_ && controls_.empty()) {
    if (outstanding_ || credit_records_ <= 0 || credit_bytes_ <= 0) return;
    if (!known_data && !HasDataLocked()) return;
  }
  scheduled_ = true;
  // Refused only once the pool has stopped (broker shut down): nothing
  // more will be delivered then, and Close() still works.
  if (!ctx_->pool.PostReserved([self = shared_from_this()] { self->Run(); })) scheduled_ = false;
}

std::vector<SubscriptionCore::Read> SubscriptionCore::PlanLocked() const {
  std::vector<Read> plan;
  const size_t n = parts_.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t index = (cursor_ + i) % n;
    const SubscribedPartition& p = parts_[index];
    if (!p.deleted && p.next_offset < p.high_watermark) {
      plan.push_back({index, p.topic, p.partition, p.key, p.next_offset, p.high_watermark});
    }
  }
  return plan;
}

// Reads one partition into `out`, within the remaining credit and the
// per-delivery memory bound. Only the very first batch of a delivery may
// exceed max_delivery_bytes (a batch is never split); credit may be
// overshot by the last batch.
void SubscriptionCore::ReadInto(const Read& read, int64_t credit_records, int64_t credit_bytes,
                                Collected* out) {
  storage::ReadOptions options;
  options.start_offset = read.next_offset;
  options.max_bytes = std::max<int64_t>(max_delivery_bytes_ - out->bytes, 1);
  options.max_offset = read.high_watermark;
  auto result = ctx_->store->Read(read.key, options);
  if (absl::IsOutOfRange(result.status())) {
    // Retention removed what this subscription had not read yet: continue
    // from the new log start rather than stall.
    auto stats = ctx_->store->Stats(read.key);
    if (stats.ok()) out->new_offsets.emplace_back(read.index, stats->log_start_offset);
    return;
  }
  if (absl::IsNotFound(result.status())) {
    out->gone.push_back(read.index);  // the monitor reports the deletion next
    return;
  }
  if (!result.ok()) {
    out->error = result.status();
    return;
  }
  int64_t next = read.next_offset;
  for (storage::ReadBatch& b : result->batches) {
    if (b.header.control) {  // the log's own (Raft no-op): consumers see a gap
      next = b.header.next_offset();
      continue;
    }
    // A start, seek or group commit may point inside a batch: the reader
    // gets exactly the records from its position on.
    if (auto s = TrimStoredBatchBefore(&b.header, &b.stored, read.next_offset); !s.ok()) {
      out->error = s;
      return;
    }
    const int64_t size = static_cast<int64_t>(b.stored.size());
    const bool first = out->batches.empty();
    if (out->records >= credit_records || out->bytes >= credit_bytes) break;
    if (!first && out->bytes + size > max_delivery_bytes_) break;
    out->records += b.header.record_count;
    out->bytes += size;
    next = b.header.next_offset();
    out->batches.push_back({read.topic, read.partition, b.header, std::move(b.stored)});
  }
  if (next != read.next_offset) {
    out->new_offsets.emplace_back(read.index, next);
    out->last_index = read.index;
  } else if (result->batches.empty()) {
    out->empty.push_back(read.index);
  }
}

void SubscriptionCore::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_ || ended_) return FinishRunLocked();
  if (pending_error_) return DeliverErrorLocked(lock);
  if (!controls_.empty()) DeliverControlsLocked(lock);
  if (closed_ || ended_) return FinishRunLocked();
  if (outstanding_ || credit_records_ <= 0 || credit_bytes_ <= 0) return FinishRunLocked();
  const std::vector<Read> plan = PlanLocked();
  const int64_t credit_records = credit_records_;
  const int64_t credit_bytes = credit_bytes_;
  const uint64_t epoch = seek_epoch_;
  lock.unlock();

  // Round-robin from cursor_: each partition with data gets a turn before
  // any gets a second one, so a busy partition cannot starve the others.
  Collected got;
  for (const Read& read : plan) {
    if (got.error || got.records >= credit_records || got.bytes >= credit_bytes ||
        got.bytes >= max_delivery_bytes_) {
      break;
    }
    ReadInto(read, credit_records, credit_bytes, &got);
  }

  lock.lock();
  if (closed_ || ended_) return FinishRunLocked();
  if (got.error && !pending_error_) pending_error_ = *got.error;
  if (pending_error_) return DeliverErrorLocked(lock);
  if (epoch != seek_epoch_) return FinishRunLocked();  // stale: re-plan
  // Group events that arrived during the read go first: an assignment or
  // revoke never trails batches read after it was applied.
  if (!controls_.empty()) return FinishRunLocked();
  for (const auto& [index, next] : got.new_offsets) parts_[index].next_offset = next;
  // Without these a partition that cannot make progress would be planned
  // again at once, spinning a pool thread; growth re-arms it.
  for (size_t index : got.gone) parts_[index].deleted = true;
  for (size_t index : got.empty) parts_[index].high_watermark = parts_[index].next_offset;
  if (got.batches.empty()) return FinishRunLocked();
  cursor_ = (got.last_index + 1) % parts_.size();
  credit_records_ -= got.records;
  credit_bytes_ -= got.bytes;
  outstanding_ = true;
  delivering_ = true;
  delivering_thread_ = std::this_thread::get_id();
  lock.unlock();
  sink_->OnBatches(std::move(got.batches));
  lock.lock();
  delivering_ = false;
  delivering_thread_ = std::thread::id();
  idle_cv_.notify_all();
  FinishRunLocked();
}

void SubscriptionCore::DeliverErrorLocked(std::unique_lock<std::mutex>& lock) {
  absl::Status status = *pending_error_;
  ended_ = true;  // nothing is delivered after the error
  delivering_ = true;
  delivering_thread_ = std::this_thread::get_id();
  lock.unlock();
  sink_->OnError(std::move(status));
  lock.lock();
  delivering_ = false;
  delivering_thread_ = std::thread::id();
  idle_cv_.notify_all();
  FinishRunLocked();
}

void SubscriptionCore::DeliverControlsLocked(std::unique_lock<std::mutex>& lock) {
  std::deque<Control> controls = std::move(controls_);
  controls_.clear();
  delivering_ = true;
  delivering_thread_ = std::this_thread::get_id();
  lock.unlock();
  for (const Control& c : controls) {
    if (c.assignment) sink_->OnAssignment(*c.assignment);
    if (c.revoke) sink_->OnRevoke(*c.revoke);
  }
  lock.lock();
  delivering_ = false;
  delivering_thread_ = std::thread::id();
  idle_cv_.notify_all();
}

void SubscriptionCore::FinishRunLocked() {
  scheduled_ = false;
  MaybeScheduleLocked(false);
}

absl::StatusOr<std::unique_ptr<Subscription>> OpenSubscription(
    const std::shared_ptr<BrokerContext>& ctx, const SubscribeOptions& options,
    SubscriptionSink* sink) {
  if (sink == nullptr) return absl::InvalidArgumentError("subscription sink is null");
  if (options.partitions.empty() && options.topics.empty()) {
    return absl::InvalidArgumentError("subscribe to at least one topic or partition");
  }
  std::vector<SubscribedPartition> parts;
  auto add = [&](const TopicState& topic, int32_t partition,
                 const StartPosition& position) -> absl::Status {
    const storage::PartitionKey key = topic.Key(partition);
    auto hw = ctx->monitor.HighWatermark(key);
    if (!hw.ok()) return TopicNotFound(topic.name);
    auto offset = ResolveStartPosition(ctx->store.get(), key, *hw, position);
    if (!offset.ok()) return offset.status();
    parts.push_back({topic.name, partition, key, *offset, *hw, false});
    return absl::OkStatus();
  };
  for (const SubscribeOptions::PartitionStart& ps : options.partitions) {
    auto topic = ctx->registry.Get(ps.topic);
    if (!topic.ok()) return topic.status();
    if (ps.partition < 0 || ps.partition >= topic->partition_count) {
      return absl::NotFoundError(absl::StrCat("topic \"", ps.topic, "\" has ",
                                              topic->partition_count, " partitions; partition ",
                                              ps.partition, " does not exist"));
    }
    if (auto s = add(*topic, ps.partition, ps.position.value_or(options.start)); !s.ok()) return s;
  }
  for (const std::string& name : options.topics) {
    auto topic = ctx->registry.Get(name);
    if (!topic.ok()) return topic.status();
    for (int32_t p = 0; p < topic->partition_count; ++p) {
      if (auto s = add(*topic, p, options.start); !s.ok()) return s;
    }
  }
  auto core = std::make_shared<SubscriptionCore>(ctx, sink, options, options.topics);
  {
    std::lock_guard<std::mutex> lock(ctx->subs_mu);
    if (ctx->subs_closed) return absl::UnavailableError("broker is shutting down");
    ctx->subs[core.get()] = core;
  }
  auto handle = std::make_unique<SubscriptionHandle>(core);
  // A partition deleted since it was resolved fails the registration;
  // `handle` then closes the core (unregistering what was registered).
  if (auto s = core->AddPartitions(std::move(parts)); !s.ok()) {
    return absl::NotFoundError("a subscribed topic was deleted while subscribing");
  }
  return std::unique_ptr<Subscription>(std::move(handle));
}

}  // namespace herald::broker

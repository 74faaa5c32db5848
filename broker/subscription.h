#pragma once
// SubscriptionCore: one subscription's state machine. No thread or timer of
// its own: it is woken by the OffsetMonitor (growth, deletion) or by the
// client (credit, DeliveryDone, Seek), and then queued once on the shared
// ReadPool, which reads and calls the sink.
//
// Synchronisation (all under mu_):
//  - scheduled_: queued on or running in the pool; at most one queue entry.
//  - outstanding_: OnBatches delivered, DeliveryDone not yet called.
//  - delivering_: a sink call is in progress, made without mu_ held. Close()
//    sets closed_ and waits on idle_cv_ until delivering_ is false; a sink
//    call is only started under mu_ after checking closed_, so none begins
//    after Close() returns. Pool tasks hold a shared_ptr, so the core
//    outlives any task still finishing after Close().
//  - seek_epoch_: reads are done without mu_; a Seek in the meantime bumps
//    the epoch and the stale read is discarded.
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "broker/broker.h"
#include "broker/broker_context.h"
#include "broker/offset_monitor.h"

namespace herald::broker {

struct SubscribedPartition {
  std::string topic;
  int32_t partition = 0;
  storage::PartitionKey key;
  int64_t next_offset = 0;
  int64_t high_watermark = 0;
  bool deleted = false;
};

class SubscriptionCore final : public PartitionWaiter,
                               public std::enable_shared_from_this<SubscriptionCore> {
 public:
  SubscriptionCore(std::shared_ptr<BrokerContext> ctx, SubscriptionSink* sink,
                   const SubscribeOptions& options, std::vector<std::string> whole_topics);

  // Adds partitions (already resolved) and registers them with the monitor.
  // NOT_FOUND if one no longer exists. Not under mu_ (monitor lock order).
  absl::Status AddPartitions(std::vector<SubscribedPartition> parts);
  // Called when `topic` grew from `from` to `to` partitions; adds them at
  // their start if this subscription covers the whole topic.
  void OnTopicGrew(const std::string& topic, uint64_t topic_id, int32_t from, int32_t to);

  void AddCredit(int64_t records, int64_t bytes);
  void DeliveryDone();
  absl::StatusOr<int64_t> Seek(const std::string& topic, int32_t partition,
                               const StartPosition& position);
  void Close();
  // Ends the subscription: the sink gets OnError(status) (unless closed).
  void Fail(absl::Status status);
  // Queues the first read if there is something to do.
  void Kick();

  void OnGrowth(storage::PartitionKey key, int64_t high_watermark) override;
  void OnDeleted(storage::PartitionKey key) override;

  // --- group subscriptions ---
  // A group event for the sink; delivered in order with batches, without
  // credit. RESOURCE_EXHAUSTED (the subscription fails) beyond
  // kMaxControlEvents undelivered events: a sink that never returns.
  struct Control {
    std::optional<GroupAssignment> assignment;
    std::optional<GroupRevoke> revoke;
  };
  static constexpr size_t kMaxControlEvents = 1024;
  void PushControl(Control control);
  // Stops reading `keys` at once: a read in flight for them is discarded.
  void RemovePartitions(const std::vector<storage::PartitionKey>& keys);
  std::vector<storage::PartitionKey> Keys();

 private:
  struct Read {
    size_t index;
    std::string topic;
    int32_t partition;
    storage::PartitionKey key;
    int64_t next_offset;
    int64_t high_watermark;
  };
  struct Collected {
    std::vector<FetchedBatch> batches;
    std::vector<std::pair<size_t, int64_t>> new_offsets;  // index -> next offset
    std::vector<size_t> gone;                             // partitions the store no longer has
    std::vector<size_t> empty;  // read nothing although behind the watermark
    int64_t records = 0;
    int64_t bytes = 0;
    size_t last_index = 0;
    std::optional<absl::Status> error;
  };

  void MaybeScheduleLocked(bool known_data);
  bool HasDataLocked() const;
  void Run();
  std::vector<Read> PlanLocked() const;
  void ReadInto(const Read& read, int64_t credit_records, int64_t credit_bytes, Collected* out);
  void DeliverErrorLocked(std::unique_lock<std::mutex>& lock);
  void DeliverControlsLocked(std::unique_lock<std::mutex>& lock);
  void FinishRunLocked();

  const std::shared_ptr<BrokerContext> ctx_;
  SubscriptionSink* const sink_;
  const int64_t max_delivery_bytes_;
  const std::vector<std::string> whole_topics_;
  const bool group_mode_;  // deleted partitions are dropped, not fatal

  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::vector<SubscribedPartition> parts_;
  absl::flat_hash_map<storage::PartitionKey, size_t> index_;
  size_t cursor_ = 0;  // round-robin start for the next delivery
  int64_t credit_records_ = 0;
  int64_t credit_bytes_ = 0;
  uint64_t seek_epoch_ = 0;
  bool scheduled_ = false;
  bool outstanding_ = false;
  bool delivering_ = false;
  std::thread::id delivering_thread_;  // the pool thread inside the sink, if any
  bool closed_ = false;
  bool ended_ = false;
  std::optional<absl::Status> pending_error_;
  std::deque<Control> controls_;  // bounded by kMaxControlEvents
};

// The handle given to the edge. Destroying it closes the subscription.
class SubscriptionHandle final : public Subscription {
 public:
  explicit SubscriptionHandle(std::shared_ptr<SubscriptionCore> core) : core_(std::move(core)) {}
  ~SubscriptionHandle() override { core_->Close(); }

  void AddCredit(int64_t records, int64_t bytes) override { core_->AddCredit(records, bytes); }
  void DeliveryDone() override { core_->DeliveryDone(); }
  absl::StatusOr<int64_t> Seek(const std::string& topic, int32_t partition,
                               const StartPosition& position) override {
    return core_->Seek(topic, partition, position);
  }
  void Close() override { core_->Close(); }

 private:
  std::shared_ptr<SubscriptionCore> core_;
};

// Validates `options`, resolves start positions and opens a subscription.
absl::StatusOr<std::unique_ptr<Subscription>> OpenSubscription(
    const std::shared_ptr<BrokerContext>& ctx, const SubscribeOptions& options,
    SubscriptionSink* sink);

}  // namespace herald::broker

#pragma once
// OffsetMonitor: the per-partition high watermark, and who to wake when it
// moves. The storage append listener feeds it; subscriptions and parked
// fetches register as waiters instead of polling (Redpanda's offset_monitor).
//
// Waiter callbacks run with the monitor's mutex held (so that after
// Unregister returns no further call is made): they must only record the
// event and hand work to another thread, never call back into the monitor.
// Lock order: monitor -> waiter's own mutex -> ReadPool.
#include <cstdint>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "storage/log_store.h"

namespace herald::broker {

class PartitionWaiter {
 public:
  virtual ~PartitionWaiter() = default;
  // The partition's high watermark grew to `high_watermark`.
  virtual void OnGrowth(storage::PartitionKey key, int64_t high_watermark) = 0;
  // The partition was deleted (its topic is gone). No further calls follow
  // for this key.
  virtual void OnDeleted(storage::PartitionKey key) = 0;
};

class OffsetMonitor {
 public:
  // Starts tracking `key` at `high_watermark` (keeps the larger if present).
  void AddPartition(storage::PartitionKey key, int64_t high_watermark);
  // Stops tracking `key`; its waiters get OnDeleted and are dropped.
  void RemovePartition(storage::PartitionKey key);

  // From the storage listener: raises the high watermark (never lowers it,
  // since listeners of concurrent appends may arrive out of order) and
  // wakes the partition's waiters.
  void OnAppend(storage::PartitionKey key, int64_t log_end_offset);

  // NOT_FOUND if the partition is not tracked.
  absl::StatusOr<int64_t> HighWatermark(storage::PartitionKey key) const;

  // Registers `waiter` and returns the current high watermark atomically
  // with the registration, so no growth can be missed in between.
  absl::StatusOr<int64_t> Register(storage::PartitionKey key, PartitionWaiter* waiter);
  // No-op if absent. After it returns, `waiter` is never called for `key`.
  void Unregister(storage::PartitionKey key, PartitionWaiter* waiter);

  size_t WaiterCount() const;

 private:
  struct Entry {
    int64_t high_watermark = 0;
    absl::flat_hash_set<PartitionWaiter*> waiters;
  };
  mutable std::mutex mu_;
  absl::flat_hash_map<storage::PartitionKey, Entry> partitions_;
};

}  // namespace herald::broker

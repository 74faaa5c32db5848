#pragma once
// Idempotent produce: producer id / epoch / sequence dedup.
//
// The broker carries producer_id, producer_epoch and base_sequence into
// every stored BatchHeader. For batches with producer_id >= 0 it calls,
// under a per-partition lock that also covers the store enqueue (so
// pipelined batches are checked in the order they are appended):
//   Check -> nullopt: append; then exactly one of OnAppended / OnAppendFailed
//         -> a ProduceResult: a retry of a batch already written (answer it
//            with duplicate = true, do not append)
//         -> an error: reject the batch (fenced epoch, out-of-order sequence)
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "broker/broker.h"
#include "coordination/producer_state.h"
#include "storage/log_store.h"

namespace herald::broker {

class IdempotenceGuard {
 public:
  virtual ~IdempotenceGuard() = default;
  virtual absl::StatusOr<std::optional<ProduceResult>> Check(storage::PartitionKey key,
                                                             const BatchHeader& header) = 0;
  virtual void OnAppended(storage::PartitionKey key, const BatchHeader& header,
                          const ProduceResult& result) = 0;
  virtual void OnAppendFailed(storage::PartitionKey key, const BatchHeader& header) = 0;
};

// Accepts every batch (no dedup).
class NoIdempotenceGuard final : public IdempotenceGuard {
 public:
  absl::StatusOr<std::optional<ProduceResult>> Check(storage::PartitionKey,
                                                     const BatchHeader&) override {
    return std::optional<ProduceResult>();
  }
  void OnAppended(storage::PartitionKey, const BatchHeader&, const ProduceResult&) override {}
  void OnAppendFailed(storage::PartitionKey, const BatchHeader&) override {}
};

// Dedup through coordination::ProducerStateManager.
class ProducerStateGuard final : public IdempotenceGuard {
 public:
  explicit ProducerStateGuard(std::unique_ptr<coordination::ProducerStateManager> state)
      : state_(std::move(state)) {}

  absl::StatusOr<std::optional<ProduceResult>> Check(storage::PartitionKey key,
                                                     const BatchHeader& header) override;
  void OnAppended(storage::PartitionKey key, const BatchHeader& header,
                  const ProduceResult& result) override;
  void OnAppendFailed(storage::PartitionKey key, const BatchHeader& header) override;

  coordination::ProducerStateManager* state() { return state_.get(); }

 private:
  std::unique_ptr<coordination::ProducerStateManager> state_;
};

// Striped locks: the check-and-enqueue of idempotent batches is atomic per
// partition. A fixed number of stripes bounds memory whatever the number
// of partitions; unrelated partitions rarely share one.
class PartitionLocks {
 public:
  std::mutex& For(const storage::PartitionKey& key) {
    const uint64_t h = key.topic_id * 1'000'003ULL + static_cast<uint32_t>(key.partition);
    return stripes_[h % stripes_.size()];
  }

 private:
  std::array<std::mutex, 64> stripes_;
};

// Rebuilds the producer state of every partition from the headers of its
// log tail (at most `tail_bytes` of stored batches per partition).
absl::Status RecoverProducerState(storage::LogStore* store,
                                  coordination::ProducerStateManager* state,
                                  const std::vector<storage::PartitionKey>& partitions,
                                  int64_t tail_bytes);

}  // namespace herald::broker

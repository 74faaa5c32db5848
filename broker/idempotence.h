#pragma once
// Hook for idempotent produce (producer id / epoch / sequence dedup).
//
// The broker already carries producer_id, producer_epoch and base_sequence
// into every stored BatchHeader. The dedup logic (owned by another engineer)
// plugs in here: Check runs before the append on the caller's thread,
// OnAppended after a successful append on the storage thread. The default
// guard accepts everything, so today every batch is appended.
#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "broker/broker.h"
#include "storage/log_store.h"

namespace herald::broker {

class IdempotenceGuard {
 public:
  virtual ~IdempotenceGuard() = default;
  // nullopt: append the batch. A ProduceResult: the batch is a retry of one
  // already written (reply with it, duplicate = true). An error: reject it
  // (e.g. OUT_OF_ORDER sequence, fenced epoch).
  virtual absl::StatusOr<std::optional<ProduceResult>> Check(storage::PartitionKey key,
                                                             const BatchHeader& header) = 0;
  virtual void OnAppended(storage::PartitionKey key, const BatchHeader& header,
                          const ProduceResult& result) = 0;
};

// Accepts every batch (no dedup yet).
class NoIdempotenceGuard final : public IdempotenceGuard {
 public:
  absl::StatusOr<std::optional<ProduceResult>> Check(storage::PartitionKey,
                                                     const BatchHeader&) override {
    return std::optional<ProduceResult>();
  }
  void OnAppended(storage::PartitionKey, const BatchHeader&, const ProduceResult&) override {}
};

}  // namespace herald::broker

#pragma once
// Resolution of StartPosition to an offset, shared by Subscribe, Seek and
// ListOffsets.
#include <cstdint>

#include "absl/status/statusor.h"
#include "broker/broker.h"
#include "storage/log_store.h"

namespace herald::broker {

// "offset 42 is out of range [10, 20]".
absl::Status OffsetOutOfRange(int64_t offset, int64_t log_start_offset, int64_t high_watermark);

// kEarliest: log start; kLatest: high watermark; kOffset: validated to lie in
// [log start, high watermark]; kTimestamp: first offset with a timestamp at
// or after it (the high watermark if none). kCommitted needs a consumer
// group, which this layer does not have: INVALID_ARGUMENT.
absl::StatusOr<int64_t> ResolveStartPosition(storage::LogStore* store, storage::PartitionKey key,
                                             int64_t high_watermark, const StartPosition& position);

}  // namespace herald::broker

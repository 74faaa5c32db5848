#include "broker/positions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace herald::broker {

absl::Status OffsetOutOfRange(int64_t offset, int64_t log_start_offset, int64_t high_watermark) {
  return absl::OutOfRangeError(absl::StrCat("offset ", offset, " is out of range [",
                                            log_start_offset, ", ", high_watermark, "]"));
}

absl::StatusOr<int64_t> ResolveStartPosition(storage::LogStore* store, storage::PartitionKey key,
                                             int64_t high_watermark,
                                             const StartPosition& position) {
  using Kind = StartPosition::Kind;
  switch (position.kind) {
    case Kind::kLatest:
      return high_watermark;
    case Kind::kEarliest:
    case Kind::kOffset: {
      auto stats = store->Stats(key);
      if (!stats.ok()) return stats.status();
      const int64_t start = std::min(stats->log_start_offset, high_watermark);
      if (position.kind == Kind::kEarliest) return start;
      if (position.value < start || position.value > high_watermark) {
        return OffsetOutOfRange(position.value, start, high_watermark);
      }
      return position.value;
    }
    case Kind::kTimestamp: {
      if (position.value < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("timestamp_ms must not be negative, got ", position.value));
      }
      auto offset = store->OffsetForTimestamp(key, position.value);
      if (!offset.ok()) return offset.status();
      return std::min(*offset, high_watermark);
    }
    case Kind::kCommitted:
      return absl::InvalidArgumentError(
          "the COMMITTED start position needs a consumer group; use EARLIEST, LATEST, an offset "
          "or a timestamp for a plain subscription");
  }
  return absl::InvalidArgumentError("unknown start position kind");
}

}  // namespace herald::broker

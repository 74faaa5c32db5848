#pragma once
// herald::client::Consumer: reads partitions over one Subscribe stream.
//
// Flow control: the server sends only within credit the consumer grants.
// The consumer grants credit as the application Polls, so at most
// max_buffered_records / max_buffered_bytes (plus one batch) sit in memory.
//
// Reconnects: if the stream ends with UNAVAILABLE (broker restart, network),
// the consumer reconnects with backoff and resumes each partition from the
// offset after the last record delivered to the buffer (no gaps, no
// duplicates for the application).
//
// Thread-safety: all methods may be called from any thread; Poll is meant to
// be called from one thread at a time. A background thread reads the stream.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "herald/client/options.h"
#include "herald/client/types.h"

namespace herald::client {

// Told which partitions this group member gained or is about to lose.
struct RebalanceListener {
  std::function<void(const std::vector<TopicPartition>&)> on_assigned;
  std::function<void(const std::vector<TopicPartition>&)> on_revoked;
};

class Consumer {
 public:
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(ConsumerOptions options);
  // Closes (see Close).
  virtual ~Consumer() = default;

  // Reads exactly these partitions from the given positions. Call once,
  // either this or SubscribeTopics (FAILED_PRECONDITION otherwise).
  virtual absl::Status Assign(
      const std::vector<std::pair<TopicPartition, StartPosition>>& partitions) = 0;
  // Reads every partition of these topics from `start`.
  virtual absl::Status SubscribeTopics(const std::vector<std::string>& topics,
                                       StartPosition start) = 0;
  // Joins ConsumerOptions::group for these topics: the broker assigns
  // partitions (each to one member of the group at a time) and each starts
  // at the group's committed offset, else at `reset` (earliest or latest).
  // On a rebalance the consumer drops the buffered records of partitions
  // that move, commits Position() for them (records Poll returned count as
  // processed), then confirms; Commit/CommitPositions are fenced by the
  // group generation. Poll keeps the membership alive (heartbeats), so call
  // it at least every few seconds. Listeners run on the reader thread.
  virtual absl::Status SubscribeGroup(const std::vector<std::string>& topics, StartPosition reset,
                                      RebalanceListener listener = {}) = 0;

  // Waits up to timeout_ms for records; returns up to max_records (possibly
  // none on timeout). Fails when the subscription ended for good (e.g.
  // NOT_FOUND for a deleted topic, or reconnecting failed too many times);
  // records buffered before the failure are returned first.
  virtual absl::StatusOr<std::vector<ConsumedRecord>> Poll(int64_t timeout_ms,
                                                           size_t max_records = 500) = 0;

  // Moves a partition's position. Buffered records of that partition are
  // dropped; records from the new position follow.
  virtual absl::Status Seek(const TopicPartition& partition, StartPosition position) = 0;

  // Next offset to be returned by Poll for a partition (-1 if unknown yet).
  virtual int64_t Position(const TopicPartition& partition) const = 0;

  // Commits offsets for ConsumerOptions::group via CommitOffsets (offset =
  // next record to read). CommitPositions commits Position() of every
  // partition the application has consumed from.
  virtual absl::Status Commit(const std::vector<PartitionOffset>& offsets) = 0;
  virtual absl::Status CommitPositions() = 0;

  // Ends the stream and joins the reader thread. Idempotent.
  virtual void Close() = 0;
};

}  // namespace herald::client

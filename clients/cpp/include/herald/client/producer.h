#pragma once
// herald::client::Producer: batching, pipelining producer over one Produce
// stream.
//
// Send() picks the partition (explicit; else murmur2 of the key exactly as
// Kafka; else a "sticky" partition per topic that moves on when a batch is
// sealed), appends the record to that partition's open batch and returns at
// once. A batch is sealed after linger_ms or at batch_max_bytes, then
// pipelined on the stream within a window of max_in_flight_batches /
// max_in_flight_bytes. Each record resolves to its {partition, offset} or an
// error carrying the broker's gRPC code and message.
//
// Memory is bounded by buffer_max_bytes: when full, Send waits up to
// max_block_ms (0: fails at once) and then fails with RESOURCE_EXHAUSTED.
// The first Send to a topic fetches its partition count; while the broker
// is unreachable (e.g. restarting) that waits for the connection up to
// connection.rpc_timeout_ms before the record fails with DEADLINE_EXCEEDED.
//
// Failures: a broken stream (UNAVAILABLE, e.g. broker restart) is
// reconnected with exponential backoff and every unacknowledged batch is
// re-sent in its original order; in-band UNAVAILABLE batches are re-sent
// too (after the batches in flight, still in order). Idempotent by default
// (enable_idempotence): each batch carries the producer id and a
// per-partition sequence number fixed when it is first sent, so a re-sent
// batch that the broker already wrote is answered with its original offsets
// and written once. When a batch fails for good, the producer takes a new
// id before sending more, so no later batch trips over the sequence gap.
// Without idempotence delivery is at-least-once. Other errors fail the
// batch's records. Batches not acknowledged within delivery_timeout_ms of being
// sealed fail with DEADLINE_EXCEEDED.
//
// Threads: thread-safe. Two internal threads: a sender (seals batches,
// writes the stream, reconnects) and a reader (acknowledgements). Callbacks
// run on those threads and must be quick and must not call Flush/Close.
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "herald/client/options.h"
#include "herald/client/types.h"

namespace herald::client {

using DeliveryResult = absl::StatusOr<RecordMetadata>;
using DeliveryCallback = std::function<void(const DeliveryResult&)>;

class Producer {
 public:
  static absl::StatusOr<std::unique_ptr<Producer>> Create(ProducerOptions options);
  // Closes (see Close).
  virtual ~Producer() = default;

  // Queues `record`; `callback` runs exactly once with the outcome (possibly
  // before Send returns, for immediate failures such as an unknown topic).
  virtual void Send(const std::string& topic, Record record, std::optional<int32_t> partition,
                    DeliveryCallback callback) = 0;
  // The same, returning a future.
  std::future<DeliveryResult> Send(const std::string& topic, Record record,
                                   std::optional<int32_t> partition = std::nullopt);

  // Sends every open batch now and waits until every record sent before the
  // call is resolved. DEADLINE_EXCEEDED if that takes over timeout_ms.
  virtual absl::Status Flush(int64_t timeout_ms) = 0;

  // Flushes (up to timeout_ms), then ends the stream. Records still pending
  // fail with CANCELLED. Idempotent; Send after Close fails with
  // FAILED_PRECONDITION.
  virtual void Close(int64_t timeout_ms = 30'000) = 0;
};

}  // namespace herald::client

#pragma once
// Options for the Herald client objects. Units are in the names.
#include <cstdint>
#include <string>

#include "herald/client/types.h"

namespace herald::client {

struct ConnectionOptions {
  // host:port of a broker. A comma-separated list is accepted; the client
  // connects to the first entry (single-node for now).
  std::string brokers = "localhost:7420";
  // HTTP/2 keepalive pings detect dead connections on idle streams.
  int64_t keepalive_time_ms = 30'000;
  int64_t keepalive_timeout_ms = 10'000;
  // Deadline of every unary call.
  int64_t rpc_timeout_ms = 10'000;
  // Largest message accepted from the server.
  int32_t max_receive_message_bytes = 64 << 20;
};

struct ProducerOptions {
  ConnectionOptions connection;
  Acks acks = Acks::kAll;
  // How long a partition's open batch waits for more records before it is
  // sent. 0: send as soon as the sender is free.
  int64_t linger_ms = 5;
  // A batch is sealed once its records reach this many bytes.
  int64_t batch_max_bytes = 256 << 10;
  // Total bytes of records accepted by Send and not yet resolved (open,
  // queued and in-flight batches). Bounds the producer's memory.
  int64_t buffer_max_bytes = 32 << 20;
  // When the buffer is full: Send waits up to this long for room, then
  // fails with RESOURCE_EXHAUSTED. 0: fail fast.
  int64_t max_block_ms = 60'000;
  // Pipelining window on the one Produce stream. With idempotence on, at
  // most 5 batches per partition are unacknowledged at a time (the broker
  // deduplicates retries of a partition's last 5 batches).
  int32_t max_in_flight_batches = 64;
  int64_t max_in_flight_bytes = 8 << 20;
  // Retries of UNAVAILABLE failures (stream broken or in-band): exponential
  // backoff between retry_backoff_ms and retry_backoff_max_ms. A batch is
  // failed after delivery_timeout_ms from its sealing.
  int64_t retry_backoff_ms = 50;
  int64_t retry_backoff_max_ms = 2'000;
  int64_t delivery_timeout_ms = 120'000;
  // Partition counts from DescribeTopic are refreshed at least this often.
  int64_t metadata_max_age_ms = 60'000;
  // Idempotent producer (InitProducer + per-partition sequence numbers): a
  // batch retried after a lost acknowledgement or a reconnect is written
  // once. Off: retries may write a batch twice (at-least-once).
  bool enable_idempotence = true;
  // Optional stable identity: a new producer with the same id fences older
  // instances (their batches fail with ABORTED).
  std::string transactional_id;
};

struct ConsumerOptions {
  ConnectionOptions connection;
  // Bounds of records buffered client-side (delivered by the server but not
  // yet returned by Poll). Credit is granted so these are never exceeded by
  // more than one batch.
  int64_t max_buffered_records = 10'000;
  int64_t max_buffered_bytes = 16 << 20;
  // Largest response the server may send. 0: the server default.
  int32_t max_response_bytes = 0;
  // Group whose offsets Commit() writes, and the group SubscribeGroup joins.
  std::string group;
  // Static membership for SubscribeGroup: reconnecting with the same id
  // within the session timeout keeps the partitions (no rebalance).
  std::string instance_id;
  // A group member silent this long is removed. 0: the server default.
  int32_t session_timeout_ms = 0;
  // Reconnect backoff after UNAVAILABLE.
  int64_t reconnect_backoff_ms = 50;
  int64_t reconnect_backoff_max_ms = 2'000;
  // Consecutive failed reconnects before Poll reports the error.
  int32_t max_reconnect_attempts = 30;
};

struct AdminOptions {
  ConnectionOptions connection;
};

}  // namespace herald::client

#pragma once
// What every RPC handler of the edge shares. Owned by HeraldServer; outlives
// every RPC (the gRPC server is shut down and drained before it goes away).
#include <atomic>
#include <cstdint>

#include "broker/broker.h"
#include "server/metrics.h"
#include "server/stream_registry.h"

namespace herald::server {

struct EdgeOptions {
  // Unacknowledged produce bytes per stream before the server stops reading
  // it (backpressure).
  int64_t max_stream_inflight_bytes = 8 << 20;
  // Unacknowledged produce bytes across all streams before a stream that
  // already has a request outstanding stops being read. Below the broker's
  // max_pending_produce_bytes, so many producers get backpressure, not
  // RESOURCE_EXHAUSTED errors. A stream with nothing outstanding may always
  // send one more request: every producer keeps making progress.
  int64_t max_total_inflight_bytes = 256 << 20;
  // Responses queued per stream (produce acks, seek results) before the
  // server stops reading it.
  int32_t max_queued_responses = 1024;
  // Upper bound on Fetch's long-poll wait.
  int32_t max_fetch_wait_ms = 60'000;
  // Used when CreateTopic asks for 0 (the API's "broker default").
  int32_t default_partitions = 1;
  int32_t default_replication_factor = 1;
};

struct Edge {
  broker::Broker* broker = nullptr;
  Metrics* metrics = nullptr;
  StreamRegistry* streams = nullptr;
  EdgeOptions options;
  // Sum of every Produce stream's unacknowledged bytes.
  std::atomic<int64_t> produce_inflight_bytes{0};
};

}  // namespace herald::server

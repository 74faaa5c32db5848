#pragma once
// Produce load through the Herald C++ client (herald_client Producer).
//
// Two modes:
// - max rate (rate_per_s == 0): driver threads call Send as fast as the
//   producer accepts (Send blocks when its bounded buffer is full), so the
//   producer's own backpressure sets the pace. Latency is Send -> ack.
// - fixed rate (rate_per_s > 0): record i is due at
//   start + i / rate. Latency is taken from that INTENDED time, so a stall of
//   the producer or broker shows up in every record it delays (no coordinated
//   omission). With several producers, record i goes to producer i % n.
// Every value carries its intended send time (steady clock, ns) in its first
// 8 bytes, so a consumer in this process can measure end-to-end latency.
#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "bench/herald_bench/histogram.h"
#include "herald/client/types.h"

namespace herald::bench {

struct ProduceLoad {
  std::string brokers;
  std::string topic;
  int32_t partitions = 1;  // 1: explicit partition 0; more: the client's sticky partitioner
  int32_t record_bytes = 100;
  client::Acks acks = client::Acks::kLeader;
  int32_t producers = 1;  // Producer objects, one Produce stream each
  double rate_per_s = 0;  // 0: max rate
  int64_t warmup_ms = 0;
  int64_t duration_ms = 1000;  // measured time after warm-up
  int64_t max_records = 0;     // > 0: stop after this many records (then duration is a cap)
  int64_t linger_ms = 1;
};

struct ProduceOutcome {
  int64_t records_sent = 0;
  int64_t records_acked = 0;      // all acknowledged records
  int64_t records_in_window = 0;  // acknowledged inside the measured window
  double window_s = 0;
  int64_t errors = 0;
  std::string first_error;
  double records_per_s() const { return window_s > 0 ? records_in_window / window_s : 0; }
};

// Writes the intended send time into the first 8 bytes of `value` (which
// must hold at least 8) and reads it back.
void StampValue(std::string* value, int64_t stamp_ns);
int64_t ReadStamp(const std::string& value);

// Runs the load; `ack_latency` (may be null) gets one value per record acked
// whose send was due after the warm-up. Fails if no producer could start or
// no record was acknowledged.
absl::StatusOr<ProduceOutcome> RunProduce(const ProduceLoad& load, LatencyHistogram* ack_latency,
                                          const std::atomic<bool>* stop = nullptr);

}  // namespace herald::bench

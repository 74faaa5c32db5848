#pragma once
// The herald-bench scenarios (see bench/README.md for what each measures).
// Each returns its measurements; a failure is a Measurement with ok=false and
// an error, never a zero figure.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/herald_bench/measurement.h"

namespace herald::bench {

struct SuiteOptions {
  std::string brokers;           // host:port
  pid_t server_pid = 0;          // for RSS (S1); 0: unknown
  double scale = 1.0;            // multiplies backlog size (C1) and, below 1, S1's stream count
  int64_t duration_ms = 10'000;  // measured time of each timed run
  int64_t warmup_ms = 2'000;     // excluded from every timed run
  double l1_rate_per_s = 10'000;
  int64_t l1_linger_ms = 1;              // producer linger in L1 (and S1's L1)
  int64_t c1_backlog_bytes = 256 << 20;  // at scale 1
  int32_t s1_streams = 10'000;
  int32_t s1_partitions = 1'000;
  std::vector<int32_t> f1_subscribers = {1, 2, 4, 8};
  std::vector<int32_t> m1_producers = {4, 100};
};

// Creates a topic with a unique name derived from `prefix`; returns the name.
absl::StatusOr<std::string> CreateBenchTopic(const std::string& brokers, const std::string& prefix,
                                             int32_t partitions);

std::vector<Measurement> RunMaxProduce(const SuiteOptions& o, const std::string& scenario,
                                       bool acks_all);  // P1 (LEADER) / P2 (ALL)
Measurement RunEndToEndLatency(const SuiteOptions& o, const std::string& scenario,
                               int64_t duration_ms);               // L1
Measurement RunCatchUp(const SuiteOptions& o);                     // C1
std::vector<Measurement> RunFanOut(const SuiteOptions& o);         // F1
std::vector<Measurement> RunManyProducers(const SuiteOptions& o);  // M1
std::vector<Measurement> RunIdleStreams(const SuiteOptions& o);    // S1 (idle_streams.cc)

// Peer-compatible single measurements for bench/peers/herald.sh.
// rate_per_s 0: max rate; otherwise open loop at that rate (latency from intended send time).
Measurement RunPeerProduce(const SuiteOptions& o, int64_t records, int32_t record_bytes,
                           int32_t partitions, bool acks_all, double rate_per_s);
Measurement RunPeerEndToEnd(const SuiteOptions& o, int64_t records, int32_t record_bytes,
                            bool acks_all);
Measurement RunPeerConsume(const SuiteOptions& o, int64_t records, int32_t record_bytes,
                           int32_t partitions);

}  // namespace herald::bench

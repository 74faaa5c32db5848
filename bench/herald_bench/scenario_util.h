#pragma once
// Helpers shared by the scenario files: turning produce runs into
// Measurements with their settings.
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "bench/herald_bench/measurement.h"
#include "bench/herald_bench/produce_load.h"
#include "bench/herald_bench/scenarios.h"

namespace herald::bench {

constexpr double kMiB = 1 << 20;
constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kDrainTimeoutMs = 600'000;

Measurement Failed(const std::string& scenario, const std::string& name,
                   const absl::Status& status);
std::string AcksName(client::Acks acks);
void SetLoadSettings(const ProduceLoad& load, Measurement* m);
void SetThroughput(const ProduceOutcome& out, int32_t record_bytes, Measurement* m);
// One produce run on a fresh topic (created here), with ack latency.
Measurement MeasureProduce(const SuiteOptions& o, const std::string& scenario, ProduceLoad load,
                           const std::string& name);
// CPU seconds used so far by the server (/proc/<pid>/stat; 0 if unknown) and
// by this process (getrusage), to tell a server-bound run from a client-bound
// one on a small shared machine.
struct CpuSnapshot {
  int64_t wall_ns = 0;
  double server_s = 0;
  double bench_s = 0;
};
CpuSnapshot TakeCpuSnapshot(pid_t server_pid);
// Adds figures cpu_server_cores and cpu_bench_cores (CPU seconds / wall seconds since `from`).
void SetCpuFigures(const CpuSnapshot& from, pid_t server_pid, Measurement* m);

// A load with the suite's warm-up and duration.
ProduceLoad TimedLoad(const SuiteOptions& o, int32_t partitions, int32_t record_bytes,
                      client::Acks acks);

}  // namespace herald::bench

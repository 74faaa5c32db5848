#pragma once
// Output of herald-bench: the machine, versions and settings of a run, and
// its measurements, as JSON (for tools) and Markdown (for people).
#include <map>
#include <string>
#include <vector>

#include "bench/herald_bench/measurement.h"

namespace herald::bench {

struct RunInfo {
  std::map<std::string, std::string> machine;   // nproc, memory, cpu, kernel, load averages
  std::map<std::string, std::string> versions;  // herald commit, grpc, protobuf
  std::map<std::string, std::string> settings;  // the command line as given
};

// Fills machine and versions; `source_dir` is the repo (for its git commit).
RunInfo CollectRunInfo(const std::string& source_dir);
// "1.23 0.98 0.77" from /proc/loadavg.
std::string LoadAverage();

std::string ToJson(const RunInfo& info, const std::vector<Measurement>& measurements);
std::string ToMarkdown(const RunInfo& info, const std::vector<Measurement>& measurements);
// One flat JSON object in bench/peers' result shape (peer, version, settings,
// records_per_s, mb_per_s, latency_ms{p50,p99,p99_9,max}, latency_kind).
std::string ToPeerJson(const Measurement& m, const std::map<std::string, std::string>& tags);

}  // namespace herald::bench

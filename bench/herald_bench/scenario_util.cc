#include "bench/herald_bench/scenario_util.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace herald::bench {

CpuSnapshot TakeCpuSnapshot(pid_t server_pid) {
  CpuSnapshot s;
  s.wall_ns = NowNs();
  rusage self{};
  if (getrusage(RUSAGE_SELF, &self) == 0) {
    s.bench_s = self.ru_utime.tv_sec + self.ru_utime.tv_usec / 1e6 + self.ru_stime.tv_sec +
                self.ru_stime.tv_usec / 1e6;
  }
  if (server_pid > 0) {
    std::ifstream stat(absl::StrCat("/proc/", server_pid, "/stat"));
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const size_t close = text.rfind(')');
    if (close != std::string::npos) {
      std::istringstream rest(text.substr(close + 2));
      std::string field;
      double utime = 0, stime = 0;
      for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stod(field);
        if (i == 15) stime = std::stod(field);
      }
      s.server_s = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
  }
  return s;
}

void SetCpuFigures(const CpuSnapshot& from, pid_t server_pid, Measurement* m) {
  const CpuSnapshot to = TakeCpuSnapshot(server_pid);
  const double wall_s = std::max<int64_t>(to.wall_ns - from.wall_ns, 1) / 1e9;
  if (server_pid > 0) m->figures["cpu_server_cores"] = (to.server_s - from.server_s) / wall_s;
  m->figures["cpu_bench_cores"] = (to.bench_s - from.bench_s) / wall_s;
}

Measurement Failed(const std::string& scenario, const std::string& name,
                   const absl::Status& status) {
  Measurement m;
  m.scenario = scenario;
  m.name = name;
  m.ok = false;
  m.error = status.ToString();
  return m;
}

std::string AcksName(client::Acks acks) {
  switch (acks) {
    case client::Acks::kNone:
      return "NONE";
    case client::Acks::kLeader:
      return "LEADER";
    case client::Acks::kAll:
      return "ALL";
  }
  return "?";
}

void SetLoadSettings(const ProduceLoad& load, Measurement* m) {
  m->settings["topic"] = load.topic;
  m->settings["partitions"] = absl::StrCat(load.partitions);
  m->settings["record_bytes"] = absl::StrCat(load.record_bytes);
  m->settings["acks"] = AcksName(load.acks);
  m->settings["producers"] = absl::StrCat(load.producers);
  m->settings["linger_ms"] = absl::StrCat(load.linger_ms);
  m->settings["rate"] = load.rate_per_s > 0 ? absl::StrCat(load.rate_per_s, "/s") : "max";
  m->settings["warmup_ms"] = absl::StrCat(load.warmup_ms);
  m->settings["duration_ms"] = absl::StrCat(load.duration_ms);
}

void SetThroughput(const ProduceOutcome& out, int32_t record_bytes, Measurement* m) {
  m->figures["records_per_s"] = out.records_per_s();
  m->figures["mb_per_s"] = out.records_per_s() * record_bytes / kMiB;
  m->figures["records_acked"] = static_cast<double>(out.records_acked);
  m->figures["window_s"] = out.window_s;
  m->figures["errors"] = static_cast<double>(out.errors);
  if (!out.first_error.empty()) m->settings["first_error"] = out.first_error;
}

// One max-rate (or fixed-rate) produce run on a fresh topic.
Measurement MeasureProduce(const SuiteOptions& o, const std::string& scenario, ProduceLoad load,
                           const std::string& name) {
  auto topic = CreateBenchTopic(o.brokers, scenario, load.partitions);
  if (!topic.ok()) return Failed(scenario, name, topic.status());
  load.brokers = o.brokers;
  load.topic = *topic;
  LatencyHistogram ack_latency;
  const CpuSnapshot cpu = TakeCpuSnapshot(o.server_pid);
  auto out = RunProduce(load, &ack_latency);
  if (!out.ok()) return Failed(scenario, name, out.status());
  Measurement m;
  m.scenario = scenario;
  m.name = name;
  SetLoadSettings(load, &m);
  SetThroughput(*out, load.record_bytes, &m);
  SetCpuFigures(cpu, o.server_pid, &m);
  m.latencies.emplace_back(
      "ack",
      Summarize(ack_latency, load.rate_per_s > 0 ? "intended send -> ack (open loop)"
                                                 : "Send() call -> ack (max rate: queueing)"));
  return m;
}

ProduceLoad TimedLoad(const SuiteOptions& o, int32_t partitions, int32_t record_bytes,
                      client::Acks acks) {
  ProduceLoad load;
  load.partitions = partitions;
  load.record_bytes = record_bytes;
  load.acks = acks;
  load.warmup_ms = o.warmup_ms;
  load.duration_ms = o.duration_ms;
  return load;
}

}  // namespace herald::bench

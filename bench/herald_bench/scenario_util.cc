#include "bench/herald_bench/scenario_util.h"

#include "absl/strings/str_cat.h"

namespace herald::bench {

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
  auto out = RunProduce(load, &ack_latency);
  if (!out.ok()) return Failed(scenario, name, out.status());
  Measurement m;
  m.scenario = scenario;
  m.name = name;
  SetLoadSettings(load, &m);
  SetThroughput(*out, load.record_bytes, &m);
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

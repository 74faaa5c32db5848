#include "bench/herald_bench/scenarios.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "bench/herald_bench/consume_load.h"
#include "bench/herald_bench/produce_load.h"
#include "bench/herald_bench/scenario_util.h"
#include "herald/client/admin.h"

namespace herald::bench {

absl::StatusOr<std::string> CreateBenchTopic(const std::string& brokers, const std::string& prefix,
                                             int32_t partitions) {
  static std::atomic<int> counter{0};
  client::AdminOptions options;
  options.connection.brokers = brokers;
  options.connection.rpc_timeout_ms = 60'000;  // 1,000 partitions take a while on a busy machine
  auto admin = client::Admin::Create(options);
  if (!admin.ok()) return admin.status();
  std::string name = absl::StrCat("bench-", prefix, "-", getpid(), "-", counter.fetch_add(1), "-",
                                  NowNs() % 1'000'000);
  auto created = (*admin)->CreateTopic(name, partitions, 0, {});
  if (!created.ok()) return created.status();
  return name;
}

std::vector<Measurement> RunMaxProduce(const SuiteOptions& o, const std::string& scenario,
                                       bool acks_all) {
  const client::Acks acks = acks_all ? client::Acks::kAll : client::Acks::kLeader;
  const std::string a = AcksName(acks);
  return {MeasureProduce(o, scenario, TimedLoad(o, 1, 100, acks),
                         "max rate, 1 partition x 100 B, acks=" + a),
          MeasureProduce(o, scenario, TimedLoad(o, 16, 1024, acks),
                         "max rate, 16 partitions x 1 KB, acks=" + a)};
}

Measurement RunEndToEndLatency(const SuiteOptions& o, const std::string& scenario,
                               int64_t duration_ms) {
  const std::string name = absl::StrCat("open loop ", o.l1_rate_per_s,
                                        " records/s, 16 partitions x 1 KB, acks=ALL, e2e");
  ProduceLoad load = TimedLoad(o, 16, 1024, client::Acks::kAll);
  load.duration_ms = duration_ms;
  load.rate_per_s = o.l1_rate_per_s;
  load.linger_ms = o.l1_linger_ms;
  auto topic = CreateBenchTopic(o.brokers, scenario, load.partitions);
  if (!topic.ok()) return Failed(scenario, name, topic.status());
  load.brokers = o.brokers;
  load.topic = *topic;
  LatencyHistogram e2e, ack;
  SubscriberOptions sub_options{o.brokers, *topic,    NowNs() + o.warmup_ms * kNsPerMs,
                                0,         INT64_MAX, &e2e};
  auto sub = CountingSubscriber::Start(sub_options);
  if (!sub.ok()) return Failed(scenario, name, sub.status());
  const CpuSnapshot cpu = TakeCpuSnapshot(o.server_pid);
  auto out = RunProduce(load, &ack);
  if (!out.ok()) return Failed(scenario, name, out.status());
  const CpuSnapshot cpu_end = TakeCpuSnapshot(o.server_pid);
  const bool all_received = (*sub)->WaitForRecords(out->records_acked, 30'000);
  absl::Status sub_status = (*sub)->Stop();
  Measurement m;
  m.scenario = scenario;
  m.name = name;
  SetLoadSettings(load, &m);
  SetThroughput(*out, load.record_bytes, &m);
  m.figures["target_records_per_s"] = o.l1_rate_per_s;
  const double wall_s = std::max<int64_t>(cpu_end.wall_ns - cpu.wall_ns, 1) / 1e9;
  if (o.server_pid > 0) m.figures["cpu_server_cores"] = (cpu_end.server_s - cpu.server_s) / wall_s;
  m.figures["cpu_bench_cores"] = (cpu_end.bench_s - cpu.bench_s) / wall_s;
  m.figures["records_received"] = static_cast<double>((*sub)->records());
  if (!all_received || !sub_status.ok()) {
    m.settings["consumer_problem"] =
        all_received ? sub_status.ToString() : "not every acked record arrived within 30 s";
  }
  m.latencies.emplace_back("e2e",
                           Summarize(e2e, "intended send -> subscriber receive (open loop)"));
  m.latencies.emplace_back("ack", Summarize(ack, "intended send -> producer ack (open loop)"));
  return m;
}

}  // namespace herald::bench

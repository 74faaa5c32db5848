// C1 (catch-up read), F1 (fan-out), M1 (many producers) and the
// peer-compatible single measurements used by bench/peers/herald.sh.
#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/herald_bench/consume_load.h"
#include "bench/herald_bench/produce_load.h"
#include "bench/herald_bench/scenario_util.h"
#include "bench/herald_bench/scenarios.h"
#include "herald/client/producer.h"

namespace herald::bench {
namespace {

struct Backlog {
  std::string topic;
  int64_t records = 0;
  double build_records_per_s = 0;
};

// Produces `records` x `record_bytes` at max rate (acks LEADER) into a fresh topic.
absl::StatusOr<Backlog> BuildBacklog(const SuiteOptions& o, const std::string& scenario,
                                     int64_t records, int32_t record_bytes, int32_t partitions) {
  auto topic = CreateBenchTopic(o.brokers, scenario, partitions);
  if (!topic.ok()) return topic.status();
  ProduceLoad load;
  load.brokers = o.brokers;
  load.topic = *topic;
  load.partitions = partitions;
  load.record_bytes = record_bytes;
  load.acks = client::Acks::kLeader;
  load.max_records = records;
  load.duration_ms = 3'600'000;  // a cap only: the record count ends the run
  auto out = RunProduce(load, nullptr);
  if (!out.ok()) return out.status();
  if (out->records_acked != records) {
    return absl::DataLossError(absl::StrCat("backlog: ", out->records_acked, " of ", records,
                                            " acked; first error: ", out->first_error));
  }
  return Backlog{*topic, records, out->records_per_s()};
}

// One subscriber drains the whole backlog from the earliest offset.
Measurement DrainBacklog(const SuiteOptions& o, const std::string& scenario,
                         const std::string& name, const Backlog& backlog, int32_t record_bytes) {
  const int64_t start_ns = NowNs();
  const CpuSnapshot cpu = TakeCpuSnapshot(o.server_pid);
  auto sub = CountingSubscriber::Start({o.brokers, backlog.topic, 0, 0, INT64_MAX, nullptr});
  if (!sub.ok()) return Failed(scenario, name, sub.status());
  const bool drained = (*sub)->WaitForRecords(backlog.records, kDrainTimeoutMs);
  const double seconds = (NowNs() - start_ns) / 1e9;
  absl::Status status = (*sub)->Stop();
  if (!drained) {
    return Failed(scenario, name,
                  absl::DeadlineExceededError(absl::StrCat("drained ", (*sub)->records(), " of ",
                                                           backlog.records, " records; ",
                                                           status.ToString())));
  }
  Measurement m;
  m.scenario = scenario;
  m.name = name;
  m.settings["topic"] = backlog.topic;
  m.settings["record_bytes"] = absl::StrCat(record_bytes);
  m.settings["consumers"] = "1 (Subscribe stream, all partitions, from earliest)";
  const double bytes = static_cast<double>((*sub)->bytes());
  m.figures["backlog_records"] = static_cast<double>(backlog.records);
  m.figures["backlog_bytes"] = bytes;
  m.figures["drain_s"] = seconds;
  m.figures["records_per_s"] = backlog.records / seconds;
  m.figures["mb_per_s"] = bytes / seconds / kMiB;
  m.figures["gb_per_s"] = bytes / seconds / 1e9;
  m.figures["backlog_build_records_per_s"] = backlog.build_records_per_s;
  SetCpuFigures(cpu, o.server_pid, &m);
  return m;
}

Measurement Ratio(const std::string& scenario, const std::string& name, const std::string& figure,
                  const Measurement& num, const Measurement& den) {
  const auto n = num.figures.find(figure);
  const auto d = den.figures.find(figure);
  if (!num.ok || !den.ok || n == num.figures.end() || d == den.figures.end()) {
    return Failed(scenario, name, absl::FailedPreconditionError("an input measurement failed"));
  }
  Measurement m;
  m.scenario = scenario;
  m.name = name;
  m.settings["of"] = figure;
  m.figures["ratio"] = d->second > 0 ? n->second / d->second : 0;
  return m;
}

}  // namespace

Measurement RunCatchUp(const SuiteOptions& o) {
  constexpr int32_t kRecordBytes = 1024;
  const int64_t records =
      std::max<int64_t>(1000, static_cast<int64_t>(o.c1_backlog_bytes * o.scale) / kRecordBytes);
  const std::string name = absl::StrCat("drain backlog of ", records, " x 1 KB, 16 partitions");
  auto backlog = BuildBacklog(o, "C1", records, kRecordBytes, 16);
  if (!backlog.ok()) return Failed("C1", name, backlog.status());
  return DrainBacklog(o, "C1", name, *backlog, kRecordBytes);
}

// F1 with n subscribers: one max-rate producer (16 x 1 KB, acks LEADER), n
// independent subscribers tailing the same topic; payload bytes delivered
// to all of them inside the measured window.
Measurement FanOutOnce(const SuiteOptions& o, int32_t subscribers) {
  const std::string name = absl::StrCat(subscribers, " subscriber(s), max-rate producer");
  ProduceLoad load = TimedLoad(o, 16, 1024, client::Acks::kLeader);
  auto topic = CreateBenchTopic(o.brokers, "F1", load.partitions);
  if (!topic.ok()) return Failed("F1", name, topic.status());
  load.brokers = o.brokers;
  load.topic = *topic;
  const int64_t from_ns = NowNs() + o.warmup_ms * kNsPerMs;
  const int64_t until_ns = from_ns + o.duration_ms * kNsPerMs;
  std::vector<std::unique_ptr<CountingSubscriber>> subs;
  for (int32_t i = 0; i < subscribers; ++i) {
    auto sub = CountingSubscriber::Start({o.brokers, *topic, 0, from_ns, until_ns, nullptr});
    if (!sub.ok()) return Failed("F1", name, sub.status());
    subs.push_back(std::move(*sub));
  }
  const CpuSnapshot cpu = TakeCpuSnapshot(o.server_pid);
  auto out = RunProduce(load, nullptr);
  if (!out.ok()) return Failed("F1", name, out.status());
  double delivered = 0, slowest = -1;
  for (auto& s : subs) {
    s->Stop().IgnoreError();
    delivered += s->window_bytes();
    slowest = slowest < 0 ? s->window_bytes() : std::min<double>(slowest, s->window_bytes());
  }
  Measurement m;
  m.scenario = "F1";
  m.name = name;
  SetLoadSettings(load, &m);
  SetThroughput(*out, load.record_bytes, &m);
  m.settings["subscribers"] = absl::StrCat(subscribers);
  SetCpuFigures(cpu, o.server_pid, &m);
  const double window_s = o.duration_ms / 1e3;
  m.figures["delivered_mb_per_s"] = delivered / window_s / kMiB;
  m.figures["slowest_subscriber_mb_per_s"] = slowest / window_s / kMiB;
  return m;
}

std::vector<Measurement> RunFanOut(const SuiteOptions& o) {
  std::vector<Measurement> out;
  for (int32_t n : o.f1_subscribers) out.push_back(FanOutOnce(o, n));
  const size_t runs = out.size();
  for (size_t i = 1; i < runs; ++i) {
    out.push_back(Ratio("F1",
                        absl::StrCat("delivered bytes, ", o.f1_subscribers[i], " vs ",
                                     o.f1_subscribers[0], " subscriber(s)"),
                        "delivered_mb_per_s", out[i], out[0]));
  }
  return out;
}

std::vector<Measurement> RunManyProducers(const SuiteOptions& o) {
  std::vector<Measurement> out;
  for (int32_t k : o.m1_producers) {
    ProduceLoad load = TimedLoad(o, 16, 1024, client::Acks::kAll);
    load.producers = k;
    out.push_back(MeasureProduce(
        o, "M1", load, absl::StrCat(k, " producer streams, max rate, 16 x 1 KB, acks=ALL")));
  }
  const size_t n = out.size();
  if (n >= 2) {
    out.push_back(Ratio("M1",
                        absl::StrCat("max-rate throughput, ", o.m1_producers.back(), " vs ",
                                     o.m1_producers.front(), " producers"),
                        "records_per_s", out[n - 1], out[0]));
  }
  // Tail latency at one offered load (L1's rate) spread over k streams: the
  // max-rate latency above is mostly queueing in the producers' buffers.
  for (int32_t k : o.m1_producers) {
    ProduceLoad load = TimedLoad(o, 16, 1024, client::Acks::kAll);
    load.producers = k;
    load.rate_per_s = o.l1_rate_per_s;
    load.linger_ms = o.l1_linger_ms;
    out.push_back(MeasureProduce(o, "M1", load,
                                 absl::StrCat(k, " producer streams, open loop ", o.l1_rate_per_s,
                                              " records/s in total, 16 x 1 KB, acks=ALL")));
  }
  return out;
}

}  // namespace herald::bench

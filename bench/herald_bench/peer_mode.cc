// Single measurements with the peers' shape (a record count, no warm-up:
// run.sh runs its own warm-up), for bench/peers/herald.sh.
#include <memory>

#include "absl/strings/str_cat.h"
#include "bench/herald_bench/consume_load.h"
#include "bench/herald_bench/produce_load.h"
#include "bench/herald_bench/scenario_util.h"
#include "bench/herald_bench/scenarios.h"
#include "herald/client/producer.h"

namespace herald::bench {
namespace {

constexpr int64_t kPeerRunCapMs = 900'000;  // run.sh's own per-step timeout

// Closed loop: send one record, wait until the subscriber has it, repeat.
absl::Status PingPong(const SuiteOptions& o, const std::string& topic, int64_t records,
                      int32_t record_bytes, client::Acks acks, CountingSubscriber* sub) {
  client::ProducerOptions options;
  options.connection.brokers = o.brokers;
  options.acks = acks;
  options.linger_ms = 0;
  auto producer = client::Producer::Create(options);
  if (!producer.ok()) return producer.status();
  std::string value(std::max<int32_t>(record_bytes, 8), 'x');
  for (int64_t i = 0; i < records; ++i) {
    StampValue(&value, NowNs());
    client::Record record;
    record.value = value;
    (*producer)->Send(topic, std::move(record), 0, [](const client::DeliveryResult&) {});
    if (!sub->WaitForRecords(i + 1, 10'000)) {
      return absl::DeadlineExceededError(absl::StrCat("record ", i, " not consumed within 10 s"));
    }
  }
  (*producer)->Close(10'000);
  return absl::OkStatus();
}

}  // namespace

Measurement RunPeerProduce(const SuiteOptions& o, int64_t records, int32_t record_bytes,
                           int32_t partitions, bool acks_all, double rate_per_s) {
  ProduceLoad load;
  load.partitions = partitions;
  load.record_bytes = record_bytes;
  load.acks = acks_all ? client::Acks::kAll : client::Acks::kLeader;
  load.max_records = records;
  load.duration_ms = kPeerRunCapMs;
  load.rate_per_s = rate_per_s;
  Measurement m = MeasureProduce(o, "produce", load, "produce");
  m.figures["records"] = static_cast<double>(records);
  return m;
}

Measurement RunPeerEndToEnd(const SuiteOptions& o, int64_t records, int32_t record_bytes,
                            bool acks_all) {
  auto topic = CreateBenchTopic(o.brokers, "e2e", 1);
  if (!topic.ok()) return Failed("e2e-latency", "e2e", topic.status());
  LatencyHistogram e2e;
  auto sub = CountingSubscriber::Start({o.brokers, *topic, 0, 0, INT64_MAX, &e2e});
  if (!sub.ok()) return Failed("e2e-latency", "e2e", sub.status());
  const int64_t start_ns = NowNs();
  absl::Status s = PingPong(o, *topic, records, record_bytes,
                            acks_all ? client::Acks::kAll : client::Acks::kLeader, sub->get());
  const double seconds = (NowNs() - start_ns) / 1e9;
  (*sub)->Stop().IgnoreError();
  if (!s.ok()) return Failed("e2e-latency", "e2e", s);
  Measurement m;
  m.scenario = "e2e-latency";
  m.name = "e2e";
  m.settings["acks"] = acks_all ? "ALL" : "LEADER";
  m.settings["partitions"] = "1";
  m.settings["record_bytes"] = absl::StrCat(record_bytes);
  m.figures["records"] = static_cast<double>(records);
  m.figures["records_per_s"] = records / seconds;
  m.latencies.emplace_back(
      "e2e", Summarize(e2e, "produce -> consume round trip, one record in flight (closed loop)"));
  return m;
}

Measurement RunPeerConsume(const SuiteOptions& o, int64_t records, int32_t record_bytes,
                           int32_t partitions) {
  auto topic = CreateBenchTopic(o.brokers, "consume", partitions);
  if (!topic.ok()) return Failed("consume", "consume", topic.status());
  ProduceLoad load;
  load.brokers = o.brokers;
  load.topic = *topic;
  load.partitions = partitions;
  load.record_bytes = record_bytes;
  load.max_records = records;
  load.duration_ms = kPeerRunCapMs;
  auto built = RunProduce(load, nullptr);
  if (!built.ok()) return Failed("consume", "consume", built.status());
  const int64_t start_ns = NowNs();
  auto sub = CountingSubscriber::Start({o.brokers, *topic, 0, 0, INT64_MAX, nullptr});
  if (!sub.ok()) return Failed("consume", "consume", sub.status());
  const bool drained = (*sub)->WaitForRecords(built->records_acked, kDrainTimeoutMs);
  const double seconds = (NowNs() - start_ns) / 1e9;
  (*sub)->Stop().IgnoreError();
  if (!drained) {
    return Failed("consume", "consume", absl::DeadlineExceededError("backlog not drained"));
  }
  Measurement m;
  m.scenario = "consume";
  m.name = "consume";
  m.settings["partitions"] = absl::StrCat(partitions);
  m.settings["record_bytes"] = absl::StrCat(record_bytes);
  m.figures["records"] = static_cast<double>(built->records_acked);
  m.figures["records_per_s"] = built->records_acked / seconds;
  m.figures["mb_per_s"] = (*sub)->bytes() / seconds / kMiB;
  return m;
}

}  // namespace herald::bench

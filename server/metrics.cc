#include "server/metrics.h"

#include <exception>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/support/status.h"
#include "prometheus/collectable.h"
#include "prometheus/text_serializer.h"
#include "server/replication_metrics.h"
#include "server/status_map.h"

namespace herald::server {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *buckets;
}

const char* AcksName(broker::Acks acks) {
  switch (acks) {
    case broker::Acks::kNone:
      return "none";
    case broker::Acks::kLeader:
      return "leader";
    case broker::Acks::kAll:
      return "all";
  }
  return "all";
}

// Prometheus names allow [a-zA-Z0-9_:]; engine stat names may hold dots.
std::string SanitizeName(absl::string_view name) {
  std::string out(name);
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok) c = '_';
  }
  return out;
}

MetricFamily GaugeFamily(std::string name, std::string help) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = MetricType::Gauge;
  return f;
}

void AddPoint(MetricFamily* f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f->metric.push_back(std::move(m));
}

}  // namespace

// Reads partition and storage gauges from the broker on every scrape.
class Metrics::BrokerCollector : public prometheus::Collectable {
 public:
  void Set(broker::Broker* broker) {
    std::lock_guard<std::mutex> lock(mu_);
    broker_ = broker;
  }

  std::vector<MetricFamily> Collect() const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (broker_ == nullptr) return {};
    auto hw = GaugeFamily("herald_partition_high_watermark",
                          "Offset the next record appended to the partition will get.");
    auto ls = GaugeFamily("herald_partition_log_start_offset",
                          "First offset still stored in the partition.");
    auto size = GaugeFamily("herald_partition_size_bytes", "Stored bytes of the partition.");
    for (const auto& g : broker_->PartitionGauges()) {
      std::vector<ClientMetric::Label> labels{{"partition", std::to_string(g.partition)},
                                              {"topic", g.topic}};
      AddPoint(&hw, labels, static_cast<double>(g.high_watermark));
      AddPoint(&ls, labels, static_cast<double>(g.log_start_offset));
      AddPoint(&size, labels, static_cast<double>(g.size_bytes));
    }
    std::vector<MetricFamily> out{std::move(hw), std::move(ls), std::move(size)};
    AddReplicationFamilies(broker_->GetReplicationStats(), broker_->PartitionReplicaGauges(), &out);
    AddGroupFamilies(&out);
    for (const auto& [name, value] : broker_->StorageStats()) {
      auto f = GaugeFamily(absl::StrCat("herald_storage_", SanitizeName(name)),
                           absl::StrCat("Storage engine statistic ", name, "."));
      AddPoint(&f, {}, value);
      // Prometheus reserves _total for counters; such stats are cumulative.
      if (absl::EndsWith(f.name, "_total")) {
        f.type = MetricType::Counter;
        f.metric.back().counter.value = value;
      }
      out.push_back(std::move(f));
    }
    return out;
  }

 private:
  // Group members, rebalances and per-partition lag (records behind the
  // high watermark; alert on it or scale consumers by it).
  void AddGroupFamilies(std::vector<MetricFamily>* out) const {
    auto members = GaugeFamily("herald_group_members", "Members of the consumer group.");
    auto rebalances = GaugeFamily("herald_group_rebalances_total",
                                  "Target assignment changes of the group since start.");
    rebalances.type = MetricType::Counter;
    auto lag = GaugeFamily("herald_group_lag",
                           "Records between the group's committed offset and the high watermark.");
    for (const broker::GroupGauge& g : broker_->GroupGauges()) {
      AddPoint(&members, {{"group", g.group}}, g.members);
      AddPoint(&rebalances, {{"group", g.group}}, 0);
      rebalances.metric.back().counter.value = static_cast<double>(g.rebalances);
    }
    for (const broker::GroupListing& listing : broker_->ListGroups()) {
      auto d = broker_->DescribeGroup(listing.group);
      if (!d.ok()) continue;
      for (const auto& p : d->partitions) {
        AddPoint(&lag,
                 {{"group", listing.group},
                  {"partition", std::to_string(p.partition)},
                  {"topic", p.topic}},
                 static_cast<double>(p.lag));
      }
    }
    out->push_back(std::move(members));
    out->push_back(std::move(rebalances));
    out->push_back(std::move(lag));
  }

  mutable std::mutex mu_;
  broker::Broker* broker_ = nullptr;
};

Metrics::Metrics(absl::string_view version)
    : registry_(std::make_shared<prometheus::Registry>()),
      broker_collector_(std::make_shared<BrokerCollector>()) {
  auto& r = *registry_;
  produce_records_ = &BuildCounter()
                          .Name("herald_produce_records_total")
                          .Help("Records appended through Produce.")
                          .Register(r);
  produce_bytes_ = &BuildCounter()
                        .Name("herald_produce_bytes_total")
                        .Help("Record batch bytes appended through Produce.")
                        .Register(r);
  consume_records_ = &BuildCounter()
                          .Name("herald_consume_records_total")
                          .Help("Records sent to consumers (Subscribe and Fetch).")
                          .Register(r);
  consume_bytes_ = &BuildCounter()
                        .Name("herald_consume_bytes_total")
                        .Help("Record bytes sent to consumers.")
                        .Register(r);
  ack_latency_ = &BuildHistogram()
                      .Name("herald_produce_ack_latency_seconds")
                      .Help("Time from receiving a produce request to its acknowledgement.")
                      .Register(r);
  rpc_duration_ = &BuildHistogram()
                       .Name("herald_rpc_duration_seconds")
                       .Help("Duration of unary RPCs.")
                       .Register(r);
  active_streams_ =
      &BuildGauge().Name("herald_active_streams").Help("Open streaming RPCs.").Register(r);
  rpc_errors_ = &BuildCounter()
                     .Name("herald_rpc_errors_total")
                     .Help("RPCs (or in-band produce results) that failed, by code.")
                     .Register(r);
  BuildGauge()
      .Name("herald_build_info")
      .Help("Build information (value is always 1).")
      .Register(r)
      .Add({{"version", std::string(version)}})
      .Set(1);
  active_streams_->Add({{"rpc", "Produce"}});
  active_streams_->Add({{"rpc", "Subscribe"}});
}

Metrics::~Metrics() { StopExposer(); }

absl::Status Metrics::StartExposer(const std::string& listen, int* port) {
  std::lock_guard<std::mutex> lock(exposer_mu_);
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(listen, 2);
    exposer->RegisterCollectable(registry_);
    exposer->RegisterCollectable(broker_collector_);
    const auto ports = exposer->GetListeningPorts();
    *port = ports.empty() ? 0 : ports.front();
    exposer_ = std::move(exposer);
    return absl::OkStatus();
  } catch (const std::exception& e) {  // civetweb throws when it cannot bind
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", listen, ": ", e.what()));
  }
}

void Metrics::StopExposer() {
  std::lock_guard<std::mutex> lock(exposer_mu_);
  exposer_.reset();
}

void Metrics::SetBroker(broker::Broker* broker) { broker_collector_->Set(broker); }

void Metrics::OnProduced(absl::string_view topic, int64_t records, int64_t bytes) {
  const prometheus::Labels labels{{"topic", std::string(topic)}};
  produce_records_->Add(labels).Increment(static_cast<double>(records));
  produce_bytes_->Add(labels).Increment(static_cast<double>(bytes));
}

void Metrics::OnConsumed(absl::string_view topic, int64_t records, int64_t bytes) {
  const prometheus::Labels labels{{"topic", std::string(topic)}};
  consume_records_->Add(labels).Increment(static_cast<double>(records));
  consume_bytes_->Add(labels).Increment(static_cast<double>(bytes));
}

void Metrics::ObserveAckLatency(broker::Acks acks, double seconds) {
  ack_latency_->Add({{"acks", AcksName(acks)}}, LatencyBuckets()).Observe(seconds);
}

void Metrics::ObserveUnary(absl::string_view method, double seconds, int code) {
  rpc_duration_->Add({{"method", std::string(method)}}, LatencyBuckets()).Observe(seconds);
  if (code != 0) CountError(method, code);
}

void Metrics::CountError(absl::string_view method, int code) {
  rpc_errors_
      ->Add({{"method", std::string(method)},
             {"code", GrpcCodeName(static_cast<grpc::StatusCode>(code))}})
      .Increment();
}

void Metrics::StreamOpened(absl::string_view rpc) {
  active_streams_->Add({{"rpc", std::string(rpc)}}).Increment();
}

void Metrics::StreamClosed(absl::string_view rpc) {
  active_streams_->Add({{"rpc", std::string(rpc)}}).Decrement();
}

void Metrics::ForgetTopic(absl::string_view topic) {
  const prometheus::Labels labels{{"topic", std::string(topic)}};
  for (auto* family : {produce_records_, produce_bytes_, consume_records_, consume_bytes_}) {
    family->Remove(&family->Add(labels));
  }
}

std::string Metrics::Render() {
  auto families = registry_->Collect();
  for (auto& f : broker_collector_->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace herald::server

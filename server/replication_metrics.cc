#include "server/replication_metrics.h"

#include <limits>
#include <string>
#include <utility>

namespace herald::server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void AddGauge(MetricFamily* f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f->metric.push_back(std::move(m));
}

void AddCounter(MetricFamily* f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  f->metric.push_back(std::move(m));
}

MetricFamily OneCounter(std::string name, std::string help, uint64_t value) {
  auto f = Family(std::move(name), std::move(help), MetricType::Counter);
  AddCounter(&f, {}, static_cast<double>(value));
  return f;
}

MetricFamily OneGauge(std::string name, std::string help, double value) {
  auto f = Family(std::move(name), std::move(help), MetricType::Gauge);
  AddGauge(&f, {}, value);
  return f;
}

MetricFamily HistogramFamily(std::string name, std::string help,
                             const storage::LatencyHistogramSnapshot& h) {
  auto f = Family(std::move(name), std::move(help), MetricType::Histogram);
  ClientMetric m;
  m.histogram.sample_count = h.count;
  m.histogram.sample_sum = h.sum_seconds;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound =
        i < h.bounds_seconds.size() ? h.bounds_seconds[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  f.metric.push_back(std::move(m));
  return f;
}

void AddNodeFamilies(const storage::ReplicationStats& s, std::vector<MetricFamily>* out) {
  out->push_back(OneGauge("herald_controller",
                          "1 on the node that leads the metadata log (the controller), else 0.",
                          s.controller ? 1 : 0));
  out->push_back(OneCounter("herald_raft_leader_changes_total",
                            "Times a Raft group's leader, as this node knows it, became another "
                            "node (the first leader included).",
                            s.leader_changes));
  out->push_back(OneCounter("herald_raft_elections_started_total",
                            "Elections (new terms) this node started, over all groups.",
                            s.elections_started));
  out->push_back(OneCounter("herald_raft_ticks_total", "Raft loop ticks.", s.ticks));
  out->push_back(OneCounter("herald_raft_late_ticks_total",
                            "Raft ticks that fired over a tick interval late (loop held up, "
                            "usually by slow persistence).",
                            s.late_ticks));
  out->push_back(OneGauge("herald_raft_max_persist_seconds",
                          "Slowest single Raft persist (synced write) since start.",
                          static_cast<double>(s.max_persist_us) / 1e6));
  out->push_back(OneCounter("herald_raft_inbound_dropped_messages_total",
                            "Inbound Raft messages dropped because the loop's queue was full.",
                            s.inbound_dropped));
  out->push_back(HistogramFamily("herald_raft_commit_latency_seconds",
                                 "Partition appends on the leader: proposed to committed on a "
                                 "majority and applied here.",
                                 s.commit_latency));
}

void AddPeerFamilies(const storage::ReplicationStats& s, std::vector<MetricFamily>* out) {
  auto sent = Family("herald_raft_peer_sent_batches_total",
                     "Batches of Raft messages written to the peer's stream.", MetricType::Counter);
  auto dropped = Family("herald_raft_peer_dropped_messages_total",
                        "Raft messages to the peer dropped because its send queue was full.",
                        MetricType::Counter);
  auto failures = Family("herald_raft_peer_stream_failures_total",
                         "Streams to the peer that broke or never connected.", MetricType::Counter);
  auto queued = Family("herald_raft_peer_queued_messages",
                       "Raft messages waiting in the peer's send queue.", MetricType::Gauge);
  for (const storage::ReplicationPeerStats& p : s.peers) {
    const Labels labels{{"peer", std::to_string(p.node)}};
    AddCounter(&sent, labels, static_cast<double>(p.sent_batches));
    AddCounter(&dropped, labels, static_cast<double>(p.dropped_msgs));
    AddCounter(&failures, labels, static_cast<double>(p.stream_failures));
    AddGauge(&queued, labels, static_cast<double>(p.queued_msgs));
  }
  for (auto* f : {&sent, &dropped, &failures, &queued}) out->push_back(std::move(*f));
}

void AddPartitionFamilies(int32_t self,
                          const std::vector<broker::Broker::PartitionReplicaGauge>& gauges,
                          std::vector<MetricFamily>* out) {
  auto leader = Family("herald_partition_leader",
                       "Node id of the partition's leader as this node knows it (-1: none).",
                       MetricType::Gauge);
  auto isr = Family("herald_partition_in_sync_replicas",
                    "Replicas holding every committed entry (reported by the leader only).",
                    MetricType::Gauge);
  auto lag = Family("herald_partition_replica_lag_entries",
                    "Committed entries a replica has not stored yet (reported by the leader).",
                    MetricType::Gauge);
  int64_t under_replicated = 0;
  for (const broker::Broker::PartitionReplicaGauge& g : gauges) {
    const storage::ReplicaState& r = g.replica;
    const Labels labels{{"partition", std::to_string(g.partition)}, {"topic", g.topic}};
    AddGauge(&leader, labels, r.leader);
    if (r.leader != self || r.replica_lag_entries.empty()) continue;  // not the leader
    AddGauge(&isr, labels, static_cast<double>(r.in_sync_replicas.size()));
    if (r.in_sync_replicas.size() < r.replicas.size()) ++under_replicated;
    for (const auto& [replica, entries] : r.replica_lag_entries) {
      AddGauge(&lag,
               {{"partition", std::to_string(g.partition)},
                {"replica", std::to_string(replica)},
                {"topic", g.topic}},
               static_cast<double>(entries));
    }
  }
  out->push_back(std::move(leader));
  out->push_back(std::move(isr));
  out->push_back(std::move(lag));
  out->push_back(OneGauge("herald_under_replicated_partitions",
                          "Partitions this node leads with fewer in-sync replicas than replicas.",
                          static_cast<double>(under_replicated)));
}

}  // namespace

void AddReplicationFamilies(const std::optional<storage::ReplicationStats>& stats,
                            const std::vector<broker::Broker::PartitionReplicaGauge>& partitions,
                            std::vector<MetricFamily>* out) {
  if (!stats.has_value()) return;
  AddNodeFamilies(*stats, out);
  AddPeerFamilies(*stats, out);
  AddPartitionFamilies(stats->node_id, partitions, out);
}

}  // namespace herald::server

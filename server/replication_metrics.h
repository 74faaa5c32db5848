#pragma once
// Cluster-mode metric families, built at scrape time from the broker's raw
// replication numbers (storage::ReplicationStats, per-partition
// storage::ReplicaState). Nothing is emitted on a single node. Label
// cardinality: partitions x cluster nodes at most (replica, peer labels
// name node ids of the static member list).
#include <optional>
#include <vector>

#include "broker/broker.h"
#include "prometheus/metric_family.h"
#include "storage/log_store.h"

namespace herald::server {

void AddReplicationFamilies(const std::optional<storage::ReplicationStats>& stats,
                            const std::vector<broker::Broker::PartitionReplicaGauge>& partitions,
                            std::vector<prometheus::MetricFamily>* out);

}  // namespace herald::server

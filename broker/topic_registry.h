#pragma once
// TopicRegistry: topics by name, persisted in LogStore metadata, with the
// validation of every admin request. Admin operations are serialized by one
// mutex (they are rare); readers get copies.
//
// Metadata layout (text values, no protobuf in the core):
//   "broker/cluster_id"     -> cluster id
//   "broker/next_topic_id"  -> decimal; topic ids are never reused
//   "topic/<name>"          -> "id=7;partitions=3;rf=1;retention_ms=..;..."
// Crash safety: partitions are created in the store before the topic's
// metadata is written and deleted after it is removed; Load() deletes
// partitions that belong to no topic.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "broker/broker.h"
#include "storage/log_store.h"

namespace herald::broker {

struct TopicState {
  std::string name;
  uint64_t topic_id = 0;
  int32_t partition_count = 0;
  int32_t replication_factor = 1;
  TopicConfig config;
  // Shared by every copy: where keyless batches go next.
  std::shared_ptr<std::atomic<uint32_t>> round_robin;

  storage::PartitionKey Key(int32_t partition) const { return {topic_id, partition}; }
};

// Text encoding of a topic's metadata value (exposed for tests).
std::string EncodeTopicValue(const TopicState& topic);
absl::StatusOr<TopicState> DecodeTopicValue(const std::string& name, const std::string& value);

// INVALID_ARGUMENT naming the offending field and its bounds.
absl::Status ValidateTopicConfig(const TopicConfig& config, const BrokerOptions& options);
TopicConfig ApplyConfigUpdate(TopicConfig config, const TopicConfigUpdate& update);

class TopicRegistry {
 public:
  TopicRegistry(storage::LogStore* store, const BrokerOptions& options);

  // Loads topics and the cluster id (generating and persisting one if
  // needed), creates missing partitions and deletes orphaned ones.
  absl::Status Load();
  const std::string& cluster_id() const { return cluster_id_; }

  // Runs after a topic's partitions exist in the store and before readers
  // can find the topic, so the caller can start tracking them first.
  using BeforePublish = std::function<void(const TopicState&)>;

  // partitions / replication_factor 0 mean the broker default.
  absl::StatusOr<TopicState> Create(const std::string& name, int32_t partitions,
                                    int32_t replication_factor, const TopicConfigUpdate& update,
                                    const BeforePublish& before_publish = nullptr);
  // Removes the topic's metadata and committed offsets, then its partitions'
  // data (best effort: leftovers are collected by Load). Returns the removed topic.
  absl::StatusOr<TopicState> Delete(const std::string& name);
  absl::StatusOr<TopicConfig> AlterConfig(const std::string& name, const TopicConfigUpdate& update);
  // Grows to `total` partitions; returns the topic before and after.
  absl::StatusOr<std::pair<TopicState, TopicState>> GrowPartitions(
      const std::string& name, int32_t total, const BeforePublish& before_publish = nullptr);

  // Cluster mode: re-reads one topic from the (replicated) metadata after
  // another node changed it, creating its partitions locally or deleting
  // them. Never takes the admin lock: the applier thread calls it while a
  // local admin operation may be waiting for that same write.
  struct TopicChange {
    std::optional<TopicState> before;
    std::optional<TopicState> after;
  };
  absl::StatusOr<TopicChange> Refresh(const std::string& name,
                                      const BeforePublish& before_publish = nullptr);

  // NOT_FOUND with a clear message if absent.
  absl::StatusOr<TopicState> Get(const std::string& name) const;
  std::vector<TopicState> List() const;
  // Name of a live topic id, or empty.
  std::string NameOf(uint64_t topic_id) const;

 private:
  absl::Status LoadClusterId();
  absl::Status ValidateCounts(int32_t partitions, int32_t replication_factor) const;
  int32_t BrokerCount() const;
  absl::Status Persist(const TopicState& topic, std::vector<storage::MetadataWrite> extra);

  storage::LogStore* const store_;
  const BrokerOptions options_;
  std::mutex admin_mu_;     // serializes admin operations (held while writing)
  mutable std::mutex mu_;   // guards the fields below (short critical sections)
  std::string cluster_id_;  // set once by Load
  uint64_t next_topic_id_ = 1;
  absl::flat_hash_map<std::string, TopicState> topics_;
};

absl::Status TopicNotFound(const std::string& name);

}  // namespace herald::broker

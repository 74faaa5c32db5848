#pragma once
// Private parts of ReplicatedLogStore shared by its .cc files.
#include <atomic>
#include <memory>
#include <vector>

#include "cluster/replicated_log_store.h"

namespace herald::cluster {

// The metadata log's group and internal partition (topic ids start at 1,
// so {0, 0} never names a topic's partition).
inline constexpr replication::GroupId kMetadataGroup = 0;
inline constexpr storage::PartitionKey kMetadataPartition{0, 0};
// Node-local key holding the last metadata entry applied here.
inline constexpr char kMetadataAppliedKey[] = "cluster/metadata_applied";

struct ReplicatedLogStore::Log {
  storage::PartitionKey key;
  replication::GroupId group = 0;
  // Loop thread only once the group is added.
  std::shared_ptr<replication::PartitionRaftStorage> storage;
  // Offset after the last committed (and applied) batch.
  std::atomic<int64_t> committed_end{0};
  // The term in which this node, as leader, finished recovering (0: none).
  std::atomic<uint64_t> ready_term{0};
};

struct ReplicatedLogStore::Event {
  enum class Kind { kMetadata, kNoop } kind = Kind::kMetadata;
  uint64_t index = 0;
  uint64_t term = 0;
  replication::GroupId group = 0;
  std::vector<storage::MetadataWrite> writes;
};

}  // namespace herald::cluster

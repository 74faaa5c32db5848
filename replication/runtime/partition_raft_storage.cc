#include "replication/runtime/partition_raft_storage.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"

namespace herald::replication {

absl::StatusOr<GroupId> PartitionGroupId(storage::PartitionKey key) {
  if (key.topic_id > UINT32_MAX || key.partition < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("no raft group for topic ", key.topic_id, " partition ", key.partition));
  }
  return (key.topic_id << 32) | static_cast<uint32_t>(key.partition);
}

storage::PartitionKey PartitionOfGroup(GroupId group) {
  return storage::PartitionKey{group >> 32, static_cast<int32_t>(group & UINT32_MAX)};
}

absl::StatusOr<std::shared_ptr<PartitionRaftStorage>> PartitionRaftStorage::Open(
    storage::LogStore* store, storage::PartitionKey key) {
  absl::StatusOr<std::unique_ptr<PartitionRaftLog>> log = PartitionRaftLog::Open(store, key);
  if (!log.ok()) return log.status();
  return std::shared_ptr<PartitionRaftStorage>(new PartitionRaftStorage(key, *std::move(log)));
}

}  // namespace herald::replication

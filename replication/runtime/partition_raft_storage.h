#pragma once
// PartitionRaftStorage: the runtime's RaftStorage over a PartitionRaftLog, so
// a RaftHost group replicates one partition of a storage::LogStore: the
// partition's stored batches are the group's Raft entries (see
// ../README.md "Partition log as the Raft log" and "Replicated partition").
//
// Library herald_replication_node (runtime + herald_replication_storage), so
// the runtime itself does not force the storage engine on its users.
//
// Threads: like every RaftStorage, used only on the RaftHost loop thread once
// the group is added (partition_log() included: reach it from a loop-thread
// callback or RaftHost::WithStorage, or after the host stopped).
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "replication/partition_raft_log.h"
#include "replication/runtime/raft_storage.h"
#include "replication/runtime/transport.h"
#include "storage/log_store.h"

namespace herald::replication {

// The group of a partition: topic_id in the high 32 bits, partition in the
// low 32. INVALID_ARGUMENT if the topic id needs more than 32 bits (ids are
// allocated from 1 and never reused, so that is 4 billion topics) or the
// partition is negative.
absl::StatusOr<GroupId> PartitionGroupId(storage::PartitionKey key);
storage::PartitionKey PartitionOfGroup(GroupId group);

class PartitionRaftStorage final : public RaftStorage {
 public:
  // PartitionRaftLog::Open (creates the partition if missing, reads the
  // durable Raft state back; DATA_LOSS if inconsistent). `store` must
  // outlive the storage.
  static absl::StatusOr<std::shared_ptr<PartitionRaftStorage>> Open(storage::LogStore* store,
                                                                    storage::PartitionKey key);

  const RaftLog& log() const override { return *log_; }
  absl::Status Append(const std::vector<Entry>& entries) override { return log_->Append(entries); }
  absl::Status StartAppend(const std::vector<Entry>& entries) override {
    return log_->StartAppend(entries);
  }
  absl::Status FinishAppend() override { return log_->FinishAppend(); }
  absl::Status SetHardState(const HardState& hard_state) override {
    return log_->SetHardState(hard_state);
  }
  // Installs the leader's snapshot at snapshot.owner_position (the offset its
  // entry index + 1 starts at); the transport must have carried it.
  absl::Status ApplySnapshot(const SnapshotMeta& snapshot) override {
    return log_->ApplySnapshot(snapshot);
  }
  absl::Status Compact(uint64_t index) override { return log_->Compact(index); }

  storage::PartitionKey key() const { return key_; }
  // Offsets, retention, status (loop thread only, see above).
  PartitionRaftLog& partition_log() { return *log_; }
  const PartitionRaftLog& partition_log() const { return *log_; }

 private:
  PartitionRaftStorage(storage::PartitionKey key, std::unique_ptr<PartitionRaftLog> log)
      : key_(key), log_(std::move(log)) {}

  const storage::PartitionKey key_;
  const std::unique_ptr<PartitionRaftLog> log_;
};

}  // namespace herald::replication

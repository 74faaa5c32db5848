#pragma once
// RocksLogStore: the LogStore on RocksDB (internal; use OpenRocksLogStore).
//
// Column families (see keys.h for the encodings):
//   data        prefix||base_offset -> stored batch (header || payload)
//   index       prefix||base_offset -> IndexEntry (size, count, max ts, epoch)
//   timeindex   prefix||running max ts -> base_offset, only when a batch
//               raises the partition's running max timestamp
//   partitions  prefix -> PartitionRecord (stats), rewritten atomically with
//               every change so that open reads only these records
//   metadata    key -> value for the upper layers
//
// Locks: write_mu_ serialises every mutation of partition state (the writer's
// group commit, retention, truncation, create, delete); mu_ guards the
// in-memory state and the queue and is held only briefly. Order: write_mu_,
// then mu_.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "storage/keys.h"
#include "storage/log_store.h"

namespace herald::storage {

class RocksLogStore final : public LogStore {
 public:
  static absl::StatusOr<std::unique_ptr<LogStore>> Open(const RocksLogStoreOptions& options);
  ~RocksLogStore() override;

  absl::Status CreatePartition(PartitionKey key) override;
  absl::Status DeletePartition(PartitionKey key) override;
  std::vector<PartitionKey> ListPartitions() override;
  void Append(AppendRequest request, AppendCallback done) override;
  absl::StatusOr<ReadResult> Read(PartitionKey key, const ReadOptions& options) override;
  absl::StatusOr<PartitionStats> Stats(PartitionKey key) override;
  absl::StatusOr<std::vector<BatchSummary>> ReadSummaries(PartitionKey key, int64_t start_offset,
                                                          size_t max_batches) override;
  absl::StatusOr<int64_t> OffsetForTimestamp(PartitionKey key, int64_t timestamp_ms) override;
  absl::StatusOr<int64_t> ApplyRetention(PartitionKey key, const RetentionPolicy& policy,
                                         int64_t now_ms) override;
  absl::Status TruncateSuffix(PartitionKey key, int64_t offset) override;
  void SetAppendListener(std::function<void(PartitionKey, int64_t)> listener) override;
  absl::Status WriteMetadata(const std::vector<MetadataWrite>& writes) override {
    return WriteMetadataBatch(writes, /*sync=*/true);
  }
  absl::Status WriteMetadataUnsynced(const std::vector<MetadataWrite>& writes) override {
    return WriteMetadataBatch(writes, /*sync=*/false);
  }
  absl::StatusOr<std::optional<std::string>> GetMetadata(absl::string_view key) override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanMetadata(
      absl::string_view prefix) override;
  std::vector<std::pair<std::string, double>> EngineStats() override;
  void Close() override;

 private:
  absl::StatusOr<keys::PartitionRecord> SnapshotAt(PartitionKey key, int64_t offset,
                                                   const rocksdb::Snapshot** snapshot);
  absl::Status WriteMetadataBatch(const std::vector<MetadataWrite>& writes, bool sync);
  enum Cf { kData = 0, kIndex, kTimeIndex, kPartitions, kMetadata, kCfCount };

  struct Pending {
    AppendRequest request;
    AppendCallback done;
  };
  // A request of a group, with the outcome decided by the writer.
  struct Committed {
    AppendCallback done;
    absl::StatusOr<AppendResult> result;
  };

  explicit RocksLogStore(const RocksLogStoreOptions& options) : options_(options) {}
  absl::Status OpenDb();
  absl::Status LoadPartitions();

  void WriterLoop();
  // Takes the next group off the queue (at least one request, at most
  // max_group_bytes unless one request is bigger). Empty when stopping.
  std::vector<Pending> NextGroup();
  void CommitGroup(std::vector<Pending> group);
  // Adds one request to `batch`, updating `state`. Not OK: the request fails
  // alone (the rest of the group still commits).
  absl::StatusOr<AppendResult> StageAppend(Pending& p, keys::PartitionRecord* state,
                                           rocksdb::WriteBatch* batch);

  // Trimming helpers (rocks_log_store_trim.cc).
  absl::Status DeleteTimeIndexBefore(PartitionKey key, int64_t offset, rocksdb::WriteBatch* batch);
  absl::StatusOr<int64_t> DeleteTimeIndexFrom(PartitionKey key, int64_t offset,
                                              rocksdb::WriteBatch* batch);
  // Frees disk space of a deleted key range; call without write_mu_ held
  // (a manual compaction may take a while). `compact` forces a compaction.
  void ReclaimRange(PartitionKey key, const std::string& begin, const std::string& end,
                    bool compact);
  // Retention under write_mu_: the new log start, and the old one in *old_start.
  absl::StatusOr<int64_t> DropExpiredPrefix(PartitionKey key, const RetentionPolicy& policy,
                                            int64_t now_ms, int64_t* old_start);
  // Reading helpers (rocks_log_store_read.cc).
  absl::StatusOr<int64_t> FirstBatchAtOrAfterTime(PartitionKey key, int64_t timestamp_ms,
                                                  const PartitionStats& stats,
                                                  const rocksdb::Snapshot* snapshot);
  absl::StatusOr<int64_t> OffsetWithinBatch(PartitionKey key, int64_t base_offset,
                                            int64_t timestamp_ms,
                                            const rocksdb::Snapshot* snapshot);

  // The in-memory state of `key`, or NOT_FOUND. Requires mu_.
  absl::StatusOr<keys::PartitionRecord> StateLocked(PartitionKey key) const;
  void PutPartitionRecord(PartitionKey key, const keys::PartitionRecord& r,
                          rocksdb::WriteBatch* batch);
  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return handles_[c]; }

  const RocksLogStoreOptions options_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;

  std::mutex write_mu_;
  mutable std::mutex mu_;
  std::condition_variable queue_cv_;
  absl::flat_hash_map<PartitionKey, keys::PartitionRecord> parts_;  // guarded by mu_
  std::deque<Pending> queue_;                                       // guarded by mu_
  int64_t queued_bytes_ = 0;                                        // guarded by mu_
  bool closing_ = false;                                            // guarded by mu_
  bool closed_ = false;                                             // guarded by mu_
  std::function<void(PartitionKey, int64_t)> listener_;             // set before appends
  std::thread writer_;

  // Counters for EngineStats; written by the writer under mu_.
  int64_t group_commits_ = 0;
  int64_t synced_group_commits_ = 0;
  int64_t batches_committed_ = 0;
  int64_t bytes_committed_ = 0;
  int64_t append_errors_ = 0;
  // Retention range deletions per partition since its last manual
  // compaction (guarded by mu_).
  absl::flat_hash_map<PartitionKey, int64_t> tombstones_;
};

inline absl::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// Maps a RocksDB status to the absl code the caller should act on.
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what);

}  // namespace herald::storage

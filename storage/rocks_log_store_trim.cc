// Removing data: retention from the front, truncation from the back, and
// reclaiming the space of deleted ranges.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "rocksdb/convenience.h"
#include "rocksdb/write_batch.h"
#include "storage/rocks_log_store.h"

namespace herald::storage {
namespace {

// Retention visits at most this many batches per call, so one call holds the
// write lock for a bounded time; the next call continues.
constexpr int64_t kMaxRetentionBatchesPerCall = 1 << 20;
// After this many retention range deletions in a partition, its dropped range
// is compacted so tombstones do not pile up in the LSM.
constexpr int64_t kTombstonesBeforeCompaction = 32;

}  // namespace

absl::StatusOr<int64_t> RocksLogStore::ApplyRetention(PartitionKey key,
                                                      const RetentionPolicy& policy,
                                                      int64_t now_ms) {
  int64_t old_start = 0;
  auto new_start = DropExpiredPrefix(key, policy, now_ms, &old_start);
  if (!new_start.ok() || *new_start == old_start) return new_start;
  bool compact = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t& count = tombstones_[key];
    if (++count >= kTombstonesBeforeCompaction) {
      count = 0;
      compact = true;
    }
  }
  ReclaimRange(key, keys::PartitionPrefix(key), keys::OffsetKey(key, *new_start), compact);
  return new_start;
}

absl::StatusOr<int64_t> RocksLogStore::DropExpiredPrefix(PartitionKey key,
                                                         const RetentionPolicy& policy,
                                                         int64_t now_ms, int64_t* old_start) {
  std::lock_guard<std::mutex> write_lock(write_mu_);
  absl::StatusOr<keys::PartitionRecord> rec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rec = StateLocked(key);
  }
  if (!rec.ok()) return rec.status();
  PartitionStats& st = rec->stats;
  *old_start = st.log_start_offset;
  if ((policy.retention_ms < 0 && policy.retention_bytes < 0 &&
       policy.truncate_before_offset < 0) ||
      st.batch_count <= 1) {
    return st.log_start_offset;
  }
  const std::string lower = keys::OffsetKey(key, st.log_start_offset);
  const std::string upper = keys::OffsetKey(key, st.log_end_offset);
  const rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kIndex)));
  int64_t new_start = st.log_start_offset;
  int64_t visited = 0;
  for (it->SeekToFirst(); it->Valid() && visited < kMaxRetentionBatchesPerCall;
       it->Next(), ++visited) {
    keys::IndexEntry e;
    if (!keys::DecodeIndexEntry(View(it->value()), &e)) {
      return absl::DataLossError("corrupt batch index entry");
    }
    const int64_t next = keys::OffsetOfKey(View(it->key())) + e.record_count;
    if (next >= st.log_end_offset) break;  // never the active (last) batch
    const bool too_old =
        policy.retention_ms >= 0 && e.max_timestamp_ms < now_ms - policy.retention_ms;
    const bool too_big = policy.retention_bytes >= 0 && st.size_bytes > policy.retention_bytes;
    const bool below = next <= policy.truncate_before_offset;
    if (!too_old && !too_big && !below) break;
    st.size_bytes -= e.stored_bytes;
    st.batch_count -= 1;
    new_start = next;
  }
  if (auto s = FromRocks(it->status(), "scanning batch index"); !s.ok()) return s;
  if (new_start == st.log_start_offset) return new_start;

  rocksdb::WriteBatch batch;
  const std::string drop_end = keys::OffsetKey(key, new_start);
  rocksdb::Status s = batch.DeleteRange(cf(kData), lower, drop_end);
  if (s.ok()) s = batch.DeleteRange(cf(kIndex), lower, drop_end);
  if (!s.ok()) return FromRocks(s, "staging retention");
  if (auto ts = DeleteTimeIndexBefore(key, new_start, &batch); !ts.ok()) return ts;
  st.log_start_offset = new_start;
  PutPartitionRecord(key, *rec, &batch);
  {
    // Narrow the readable range before the data goes (see read.cc).
    std::lock_guard<std::mutex> lock(mu_);
    parts_[key] = *rec;
  }
  // Synced: ReclaimRange's DeleteFilesInRange then drops whole SST files
  // through a MANIFEST edit, which is durable at once. Were this write still
  // in an unsynced WAL tail, a power loss would bring back the old log start
  // with its batches gone (tested in rocks_log_store_power_loss_retention_test).
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto w = FromRocks(db_->Write(wo, &batch), "retention"); !w.ok()) return w;
  return new_start;
}

// Deletes time index entries of batches before `offset`, except the last such
// entry: it keeps the partition's running max (see FirstBatchAtOrAfterTime).
absl::Status RocksLogStore::DeleteTimeIndexBefore(PartitionKey key, int64_t offset,
                                                  rocksdb::WriteBatch* batch) {
  const std::string lower = keys::PartitionPrefix(key);
  const std::string upper = keys::PartitionEnd(key);
  const rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kTimeIndex)));
  std::string previous;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->value().size() != 8) return absl::DataLossError("corrupt time index entry");
    if (keys::GetFixed64(it->value().data()) >= offset) break;
    if (!previous.empty()) {
      if (auto s = batch->Delete(cf(kTimeIndex), previous); !s.ok())
        return FromRocks(s, "time index");
    }
    previous = it->key().ToString();
  }
  return FromRocks(it->status(), "scanning time index");
}

// Deletes time index entries of batches at or after `offset` (a suffix in
// both time and offset order). Returns the running max of what remains.
absl::StatusOr<int64_t> RocksLogStore::DeleteTimeIndexFrom(PartitionKey key, int64_t offset,
                                                           rocksdb::WriteBatch* batch) {
  const std::string lower = keys::PartitionPrefix(key);
  const std::string upper = keys::PartitionEnd(key);
  const rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kTimeIndex)));
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    if (it->value().size() != 8) return absl::DataLossError("corrupt time index entry");
    if (keys::GetFixed64(it->value().data()) < offset) return keys::TimeOfKey(View(it->key()));
    if (auto s = batch->Delete(cf(kTimeIndex), it->key()); !s.ok())
      return FromRocks(s, "time index");
  }
  if (auto s = FromRocks(it->status(), "scanning time index"); !s.ok()) return s;
  return INT64_MIN;
}

absl::Status RocksLogStore::TruncateSuffix(PartitionKey key, int64_t offset) {
  std::lock_guard<std::mutex> write_lock(write_mu_);
  absl::StatusOr<keys::PartitionRecord> rec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rec = StateLocked(key);
  }
  if (!rec.ok()) return rec.status();
  PartitionStats& st = rec->stats;
  if (offset == st.log_end_offset) return absl::OkStatus();
  if (offset < st.log_start_offset || offset > st.log_end_offset) {
    return absl::InvalidArgumentError(absl::StrCat("truncate to ", offset, " outside the log [",
                                                   st.log_start_offset, ", ", st.log_end_offset,
                                                   "]"));
  }
  const std::string lower = keys::OffsetKey(key, offset);
  const std::string upper = keys::PartitionEnd(key);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kIndex)));
  it->Seek(lower);
  if (!it->Valid() || it->key() != rocksdb::Slice(lower)) {
    if (auto s = FromRocks(it->status(), "scanning batch index"); !s.ok()) return s;
    return absl::InvalidArgumentError(
        absl::StrCat("truncate to ", offset, ": not a batch boundary"));
  }
  for (; it->Valid(); it->Next()) {
    keys::IndexEntry e;
    if (!keys::DecodeIndexEntry(View(it->value()), &e)) {
      return absl::DataLossError("corrupt batch index entry");
    }
    st.size_bytes -= e.stored_bytes;
    st.batch_count -= 1;
  }
  if (auto s = FromRocks(it->status(), "scanning batch index"); !s.ok()) return s;
  rocksdb::WriteBatch batch;
  auto running_max = DeleteTimeIndexFrom(key, offset, &batch);
  if (!running_max.ok()) return running_max.status();
  rocksdb::Status s = batch.DeleteRange(cf(kData), lower, upper);
  if (s.ok()) s = batch.DeleteRange(cf(kIndex), lower, upper);
  if (!s.ok()) return FromRocks(s, "staging truncation");
  st.log_end_offset = offset;
  rec->running_max_timestamp_ms = *running_max;
  PutPartitionRecord(key, *rec, &batch);
  {
    std::lock_guard<std::mutex> lock(mu_);
    parts_[key] = *rec;
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;  // rare, and replication relies on it before re-appending
  return FromRocks(db_->Write(wo, &batch), "truncation");
}

// DeleteFilesInRange drops whole SST files inside the range at once (cheap);
// a compaction of the range, now and then, removes the range tombstones and
// the partly covered files so reads over the partition stay fast.
void RocksLogStore::ReclaimRange(PartitionKey key, const std::string& begin, const std::string& end,
                                 bool compact) {
  const rocksdb::Slice b(begin), e(end);
  for (Cf c : {kData, kIndex}) {
    auto s = rocksdb::DeleteFilesInRange(db_.get(), cf(c), &b, &e);
    (void)s;  // Only an optimisation: compaction reclaims the space anyway.
    if (!compact) continue;
    rocksdb::CompactRangeOptions options;
    options.exclusive_manual_compaction = false;  // let background work proceed
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
    s = db_->CompactRange(options, cf(c), &b, &e);
    (void)s;  // Same: a failed manual compaction leaves correct (if larger) data.
  }
}

}  // namespace herald::storage

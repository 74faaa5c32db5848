// The writer's group commit, metadata writes and engine statistics.
#include <utility>

#include "absl/strings/str_cat.h"
#include "rocksdb/write_batch.h"
#include "storage/rocks_log_store.h"

namespace herald::storage {
namespace {

// A partition touched by a group: a working copy of its state, published to
// parts_ only if the group's WriteBatch commits.
struct Touched {
  PartitionKey key;
  keys::PartitionRecord record;
  int64_t log_end_before = 0;
};

}  // namespace

absl::StatusOr<AppendResult> RocksLogStore::StageAppend(Pending& p, keys::PartitionRecord* state,
                                                        rocksdb::WriteBatch* batch) {
  AppendRequest& req = p.request;
  PartitionStats& stats = state->stats;
  if (req.expected_base_offset.has_value() && *req.expected_base_offset != stats.log_end_offset) {
    return absl::FailedPreconditionError(
        absl::StrCat("append expected base offset ", *req.expected_base_offset,
                     " but the log ends at ", stats.log_end_offset));
  }
  BatchHeader h = req.header;
  h.base_offset = stats.log_end_offset;
  // A replicated batch keeps the leader's append time so replicas agree.
  if (!req.expected_base_offset.has_value()) {
    h.append_time_ms = options_.clock->NowMs();
    if (h.timestamp_type == TimestampType::kLogAppendTime) h.max_timestamp_ms = h.append_time_ms;
  }
  if (h.max_timestamp_ms == 0) h.max_timestamp_ms = h.append_time_ms;

  // Re-seal only the header; the payload (and its crc) is the caller's.
  char header_bytes[kBatchHeaderBytes];
  EncodeBatchHeader(h, header_bytes);
  const std::string key = keys::OffsetKey(req.partition, h.base_offset);
  const rocksdb::Slice key_slice(key);
  const rocksdb::Slice value_parts[2] = {rocksdb::Slice(header_bytes, kBatchHeaderBytes),
                                         rocksdb::Slice(req.payload)};
  const int64_t stored_bytes = static_cast<int64_t>(kBatchHeaderBytes + req.payload.size());
  auto s = batch->Put(cf(kData), rocksdb::SliceParts(&key_slice, 1),
                      rocksdb::SliceParts(value_parts, 2));
  if (s.ok()) {
    keys::IndexEntry e{stored_bytes, h.record_count, h.max_timestamp_ms, h.leader_epoch};
    s = batch->Put(cf(kIndex), key, keys::EncodeIndexEntry(e));
  }
  if (s.ok() && h.max_timestamp_ms > state->running_max_timestamp_ms) {
    std::string offset_value;
    keys::PutFixed64(&offset_value, h.base_offset);
    s = batch->Put(cf(kTimeIndex), keys::TimeKey(req.partition, h.max_timestamp_ms), offset_value);
    state->running_max_timestamp_ms = h.max_timestamp_ms;
  }
  if (!s.ok()) return FromRocks(s, "staging append");
  stats.log_end_offset += h.record_count;
  stats.size_bytes += stored_bytes;
  stats.batch_count += 1;
  return AppendResult{h.base_offset, h.append_time_ms};
}

void RocksLogStore::CommitGroup(std::vector<Pending> group) {
  std::vector<Committed> outcomes;
  outcomes.reserve(group.size());
  std::vector<Touched> touched;
  absl::flat_hash_map<PartitionKey, size_t> touched_index;
  rocksdb::WriteBatch batch;
  bool sync = false;
  int64_t staged = 0;
  int64_t staged_bytes = 0;
  std::unique_lock<std::mutex> write_lock(write_mu_);
  for (Pending& p : group) {
    auto [it, inserted] = touched_index.try_emplace(p.request.partition, touched.size());
    if (inserted) {
      absl::StatusOr<keys::PartitionRecord> state;
      {
        std::lock_guard<std::mutex> lock(mu_);
        state = StateLocked(p.request.partition);
      }
      if (!state.ok()) {  // deleted while queued
        touched_index.erase(it);
        outcomes.push_back(Committed{std::move(p.done), state.status()});
        continue;
      }
      touched.push_back(Touched{p.request.partition, *state, state->stats.log_end_offset});
    }
    auto result = StageAppend(p, &touched[it->second].record, &batch);
    if (result.ok()) {
      sync = sync || p.request.sync;
      ++staged;
      staged_bytes += static_cast<int64_t>(kBatchHeaderBytes + p.request.payload.size());
    }
    outcomes.push_back(Committed{std::move(p.done), std::move(result)});
  }
  absl::Status written;
  if (staged > 0) {
    for (const Touched& t : touched) PutPartitionRecord(t.key, t.record, &batch);
    rocksdb::WriteOptions wo;
    wo.sync = sync;  // one fsync for the whole group when anyone asked for it
    written = FromRocks(db_->Write(wo, &batch), "group commit");
    std::lock_guard<std::mutex> lock(mu_);
    if (written.ok()) {
      for (const Touched& t : touched) parts_[t.key] = t.record;
      ++group_commits_;
      if (sync) ++synced_group_commits_;
      batches_committed_ += staged;
      bytes_committed_ += staged_bytes;
    } else {
      append_errors_ += staged;
    }
  }
  write_lock.unlock();
  for (Committed& c : outcomes) {
    if (!written.ok() && c.result.ok()) c.result = written;
    c.done(std::move(c.result));
  }
  // listener_ is set before appends start; the queue hand-off under mu_
  // orders that write before this read.
  if (!written.ok() || !listener_) return;
  for (const Touched& t : touched) {
    if (t.record.stats.log_end_offset > t.log_end_before)
      listener_(t.key, t.record.stats.log_end_offset);
  }
}

absl::Status RocksLogStore::WriteMetadataBatch(const std::vector<MetadataWrite>& writes,
                                               bool sync) {
  rocksdb::WriteBatch batch;
  for (const MetadataWrite& w : writes) {
    auto s = w.value.has_value() ? batch.Put(cf(kMetadata), w.key, *w.value)
                                 : batch.Delete(cf(kMetadata), w.key);
    if (!s.ok()) return FromRocks(s, "staging metadata");
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(db_->Write(wo, &batch), "writing metadata");
}

std::vector<std::pair<std::string, double>> RocksLogStore::EngineStats() {
  std::vector<std::pair<std::string, double>> out;
  auto sum_property = [&](const std::string& property) {
    double total = 0;
    for (int c = 0; c < kCfCount; ++c) {
      uint64_t v = 0;
      if (db_->GetIntProperty(cf(static_cast<Cf>(c)), property, &v))
        total += static_cast<double>(v);
    }
    return total;
  };
  auto db_property = [&](const std::string& property) {
    uint64_t v = 0;
    return db_->GetIntProperty(property, &v) ? static_cast<double>(v) : 0.0;
  };
  using P = rocksdb::DB::Properties;
  out.emplace_back("live_data_size_bytes", sum_property(P::kEstimateLiveDataSize));
  out.emplace_back("sst_files_size_bytes", sum_property(P::kTotalSstFilesSize));
  out.emplace_back("memtable_bytes", sum_property(P::kCurSizeAllMemTables));
  out.emplace_back("pending_compaction_bytes", sum_property(P::kEstimatePendingCompactionBytes));
  out.emplace_back("running_compactions", db_property(P::kNumRunningCompactions));
  out.emplace_back("running_flushes", db_property(P::kNumRunningFlushes));
  out.emplace_back("block_cache_usage_bytes", static_cast<double>(block_cache_->GetUsage()));
  std::lock_guard<std::mutex> lock(mu_);
  out.emplace_back("group_commits_total", static_cast<double>(group_commits_));
  out.emplace_back("synced_group_commits_total", static_cast<double>(synced_group_commits_));
  out.emplace_back("batches_appended_total", static_cast<double>(batches_committed_));
  out.emplace_back("bytes_appended_total", static_cast<double>(bytes_committed_));
  out.emplace_back("append_errors_total", static_cast<double>(append_errors_));
  out.emplace_back(
      "average_group_batches",
      group_commits_ == 0 ? 0.0 : static_cast<double>(batches_committed_) / group_commits_);
  out.emplace_back("queued_bytes", static_cast<double>(queued_bytes_));
  out.emplace_back("partitions", static_cast<double>(parts_.size()));
  return out;
}

}  // namespace herald::storage

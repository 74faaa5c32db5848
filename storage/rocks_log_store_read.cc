// Reads: batches, timestamp lookups, stats and metadata.
//
// Consistency: the in-memory bounds and a RocksDB snapshot are taken together
// under mu_. Appends publish bounds after their write; retention and
// truncation publish the narrower bounds before theirs. So every batch inside
// the bounds a reader sees is present in its snapshot.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/wire.h"
#include "storage/rocks_log_store.h"

namespace herald::storage {
namespace {

class SnapshotGuard {
 public:
  SnapshotGuard(rocksdb::DB* db, const rocksdb::Snapshot* snapshot)
      : db_(db), snapshot_(snapshot) {}
  ~SnapshotGuard() { db_->ReleaseSnapshot(snapshot_); }
  SnapshotGuard(const SnapshotGuard&) = delete;
  SnapshotGuard& operator=(const SnapshotGuard&) = delete;

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

std::string Describe(PartitionKey key) {
  return absl::StrCat("partition ", key.partition, " of topic id ", key.topic_id);
}

// The smallest string greater than every string starting with `prefix`;
// empty when there is none (prefix empty or all 0xff).
std::string PrefixSuccessor(absl::string_view prefix) {
  std::string out(prefix);
  while (!out.empty() && static_cast<uint8_t>(out.back()) == 0xff) out.pop_back();
  if (!out.empty()) out.back() = static_cast<char>(static_cast<uint8_t>(out.back()) + 1);
  return out;
}

// The timestamp of one serialized Record (field 4), 0 when it has none.
int64_t RecordTimestamp(absl::string_view record) {
  while (!record.empty()) {
    wire::Field f;
    if (!wire::ReadField(&record, &f)) return 0;
    if (f.number == 4 && f.type == wire::kVarint) return static_cast<int64_t>(f.varint);
  }
  return 0;
}

}  // namespace

// The partition's state and a snapshot of the DB taken together (the caller
// releases the snapshot), or OUT_OF_RANGE if `offset` is outside the log.
absl::StatusOr<keys::PartitionRecord> RocksLogStore::SnapshotAt(
    PartitionKey key, int64_t offset, const rocksdb::Snapshot** snapshot) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<keys::PartitionRecord> state = StateLocked(key);
  if (!state.ok()) return state.status();
  const PartitionStats& st = state->stats;
  if (offset < st.log_start_offset || offset > st.log_end_offset) {
    return absl::OutOfRangeError(absl::StrCat("offset ", offset, " is out of range for ",
                                              Describe(key), ": log start ", st.log_start_offset,
                                              ", log end ", st.log_end_offset));
  }
  *snapshot = db_->GetSnapshot();
  return state;
}

absl::StatusOr<ReadResult> RocksLogStore::Read(PartitionKey key, const ReadOptions& options) {
  const rocksdb::Snapshot* snapshot = nullptr;
  auto state = SnapshotAt(key, options.start_offset, &snapshot);
  if (!state.ok()) return state.status();
  SnapshotGuard guard(db_.get(), snapshot);
  const PartitionStats& st = state->stats;
  ReadResult result;
  result.log_start_offset = st.log_start_offset;
  result.log_end_offset = st.log_end_offset;
  const int64_t limit = std::min(st.log_end_offset, options.max_offset);
  if (options.start_offset == st.log_end_offset || limit <= st.log_start_offset) return result;

  const std::string lower = keys::OffsetKey(key, st.log_start_offset);
  const std::string upper = keys::OffsetKey(key, limit);
  const rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  // Bounds let the iterator skip retention's range tombstones cheaply.
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kData)));
  // SeekForPrev needs a target inside the bounds.
  it->SeekForPrev(keys::OffsetKey(key, std::min(options.start_offset, limit - 1)));
  int64_t expected_offset = -1;
  int64_t total_bytes = 0;
  for (; it->Valid(); it->Next()) {
    const absl::string_view stored = View(it->value());
    auto header =
        options.verify_checksums ? DecodeAndVerifyBatch(stored) : DecodeBatchHeader(stored);
    const int64_t key_offset = keys::OffsetOfKey(View(it->key()));
    if (!header.ok()) {
      return absl::DataLossError(absl::StrCat(Describe(key), " batch at offset ", key_offset, ": ",
                                              header.status().message()));
    }
    if (header->base_offset != key_offset) {
      return absl::DataLossError(absl::StrCat(Describe(key), ": batch stored at offset ",
                                              key_offset, " has base offset ",
                                              header->base_offset));
    }
    if (expected_offset < 0 && header->next_offset() <= options.start_offset) {
      if (options.start_offset >= limit) return result;  // containing batch is past max_offset
      return absl::DataLossError(
          absl::StrCat(Describe(key), ": no batch holds offset ", options.start_offset));
    }
    if (expected_offset >= 0 && key_offset != expected_offset) {
      return absl::DataLossError(absl::StrCat(Describe(key), ": gap in the log, expected offset ",
                                              expected_offset, " found ", key_offset));
    }
    const auto size = static_cast<int64_t>(stored.size());
    if (!result.batches.empty() && total_bytes + size > options.max_bytes) break;
    result.batches.push_back(ReadBatch{*header, std::string(stored)});
    total_bytes += size;
    expected_offset = header->next_offset();
  }
  if (auto s = FromRocks(it->status(), "reading log"); !s.ok()) return s;
  // start_offset < limit here, so a batch must hold it: finding none (every
  // key of the partition is above it) is lost data, not an empty log.
  if (result.batches.empty()) {
    return absl::DataLossError(
        absl::StrCat(Describe(key), ": no batch holds offset ", options.start_offset));
  }
  return result;
}

absl::StatusOr<PartitionStats> RocksLogStore::Stats(PartitionKey key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto state = StateLocked(key);
  if (!state.ok()) return state.status();
  return state->stats;
}

absl::StatusOr<int64_t> RocksLogStore::OffsetForTimestamp(PartitionKey key, int64_t timestamp_ms) {
  absl::StatusOr<keys::PartitionRecord> state;
  const rocksdb::Snapshot* snapshot = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state = StateLocked(key);
    if (!state.ok()) return state.status();
    snapshot = db_->GetSnapshot();
  }
  SnapshotGuard guard(db_.get(), snapshot);
  if (state->stats.batch_count == 0) return state->stats.log_end_offset;
  auto base = FirstBatchAtOrAfterTime(key, timestamp_ms, state->stats, snapshot);
  if (!base.ok() || *base >= state->stats.log_end_offset) return base;
  return OffsetWithinBatch(key, *base, timestamp_ms, snapshot);
}

// The time index holds running-max entries, so its first entry >= ts names
// the first batch ever appended with max timestamp >= ts. If retention has
// removed that batch, the survivors are scanned through the small index CF.
absl::StatusOr<int64_t> RocksLogStore::FirstBatchAtOrAfterTime(PartitionKey key,
                                                               int64_t timestamp_ms,
                                                               const PartitionStats& stats,
                                                               const rocksdb::Snapshot* snapshot) {
  const std::string lower = keys::PartitionPrefix(key);
  const std::string upper = keys::PartitionEnd(key);
  const rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kTimeIndex)));
  it->Seek(keys::TimeKey(key, timestamp_ms));
  if (!it->Valid()) {
    if (auto s = FromRocks(it->status(), "reading time index"); !s.ok()) return s;
    return stats.log_end_offset;
  }
  if (it->value().size() != 8) return absl::DataLossError("corrupt time index entry");
  const int64_t base = keys::GetFixed64(it->value().data());
  if (base >= stats.log_start_offset) return std::min(base, stats.log_end_offset);

  const std::string index_lower = keys::OffsetKey(key, stats.log_start_offset);
  const std::string index_upper = keys::OffsetKey(key, stats.log_end_offset);
  const rocksdb::Slice index_lower_slice(index_lower), index_upper_slice(index_upper);
  ro.iterate_lower_bound = &index_lower_slice;
  ro.iterate_upper_bound = &index_upper_slice;
  std::unique_ptr<rocksdb::Iterator> index(db_->NewIterator(ro, cf(kIndex)));
  for (index->SeekToFirst(); index->Valid(); index->Next()) {
    keys::IndexEntry e;
    if (!keys::DecodeIndexEntry(View(index->value()), &e)) {
      return absl::DataLossError("corrupt batch index entry");
    }
    if (e.max_timestamp_ms >= timestamp_ms) return keys::OffsetOfKey(View(index->key()));
  }
  if (auto s = FromRocks(index->status(), "reading batch index"); !s.ok()) return s;
  return stats.log_end_offset;
}

// The batch index column family holds everything a summary needs, so
// payloads are never read (a Raft log's index is rebuilt this way at open).
absl::StatusOr<std::vector<BatchSummary>> RocksLogStore::ReadSummaries(PartitionKey key,
                                                                       int64_t start_offset,
                                                                       size_t max_batches) {
  const rocksdb::Snapshot* snapshot = nullptr;
  auto state = SnapshotAt(key, start_offset, &snapshot);
  if (!state.ok()) return state.status();
  SnapshotGuard guard(db_.get(), snapshot);
  const PartitionStats& st = state->stats;
  std::vector<BatchSummary> out;
  const std::string lower = keys::OffsetKey(key, start_offset);
  const std::string upper = keys::OffsetKey(key, st.log_end_offset);
  const rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kIndex)));
  for (it->SeekToFirst(); it->Valid() && out.size() < max_batches; it->Next()) {
    keys::IndexEntry e;
    if (!keys::DecodeIndexEntry(View(it->value()), &e)) {
      return absl::DataLossError("corrupt batch index entry");
    }
    out.push_back({keys::OffsetOfKey(View(it->key())), e.record_count, e.stored_bytes,
                   e.max_timestamp_ms, e.leader_epoch});
  }
  if (auto s = FromRocks(it->status(), "reading batch index"); !s.ok()) return s;
  return out;
}

// Finds the first record of the batch at `base_offset` whose timestamp is
// >= timestamp_ms (records without one count as the batch's append time).
absl::StatusOr<int64_t> RocksLogStore::OffsetWithinBatch(PartitionKey key, int64_t base_offset,
                                                         int64_t timestamp_ms,
                                                         const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::string stored;
  auto s = db_->Get(ro, cf(kData), keys::OffsetKey(key, base_offset), &stored);
  if (!s.ok()) return FromRocks(s, absl::StrCat("reading batch at offset ", base_offset));
  auto header = DecodeAndVerifyBatch(stored);
  if (!header.ok()) return header.status();
  if (header->timestamp_type == TimestampType::kLogAppendTime) return base_offset;
  absl::string_view payload = BatchPayload(stored);
  for (int64_t index = 0; !payload.empty() && index < header->record_count; ++index) {
    wire::Field f;
    if (!wire::ReadField(&payload, &f)) break;  // opaque payload: the batch start will do
    int64_t ts = f.number == 1 ? RecordTimestamp(f.body) : 0;
    if (ts == 0) ts = header->append_time_ms;
    if (ts >= timestamp_ms) return base_offset + index;
  }
  return base_offset;
}

absl::StatusOr<std::optional<std::string>> RocksLogStore::GetMetadata(absl::string_view key) {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(kMetadata), rocksdb::Slice(key.data(), key.size()),
                    &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "reading metadata");
  return std::optional<std::string>(std::move(value));
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RocksLogStore::ScanMetadata(
    absl::string_view prefix) {
  const std::string upper = PrefixSuccessor(prefix);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kMetadata)));
  std::vector<std::pair<std::string, std::string>> out;
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (auto s = FromRocks(it->status(), "scanning metadata"); !s.ok()) return s;
  return out;
}

}  // namespace herald::storage

#include "storage/rocks_log_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rocksdb/convenience.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace herald::storage {
namespace {

const char* const kCfNames[] = {"data", "index", "timeindex", "partitions", "metadata"};

rocksdb::CompressionType PickCompression() {
  for (auto c : rocksdb::GetSupportedCompressions()) {
    if (c == rocksdb::kLZ4Compression) return c;
  }
  return rocksdb::kNoCompression;
}

// Options for one column family. The data CF gets most of the memtable budget;
// the others hold small fixed-size entries.
rocksdb::ColumnFamilyOptions CfOptions(const RocksLogStoreOptions& o,
                                       const std::shared_ptr<rocksdb::Cache>& cache, bool is_data) {
  rocksdb::ColumnFamilyOptions cf;
  cf.compaction_style = rocksdb::kCompactionStyleLevel;
  cf.level_compaction_dynamic_level_bytes = true;
  cf.compression = PickCompression();
  cf.bottommost_compression = cf.compression;
  const int64_t data_buffer_bytes = std::max<int64_t>(o.write_buffer_bytes / 4, 4 << 20);
  cf.write_buffer_size = is_data ? data_buffer_bytes : (4 << 20);
  cf.max_write_buffer_number = is_data ? 3 : 2;
  cf.target_file_size_base = is_data ? 64 << 20 : 8 << 20;
  rocksdb::BlockBasedTableOptions table;
  // Shared cache so the budget covers the whole store. No bloom filters:
  // every read is a Seek over a range, which point filters do not help.
  table.block_cache = cache;
  table.block_size = is_data ? 64 << 10 : 4 << 10;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

rocksdb::DBOptions DbOptions(const RocksLogStoreOptions& o) {
  rocksdb::DBOptions db;
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  db.max_background_jobs = 4;
  db.bytes_per_sync = 1 << 20;
  // Caps all memtables together; and bounds the WAL so that a rarely written
  // column family (metadata) does not keep old WAL files alive forever.
  db.db_write_buffer_size = static_cast<size_t>(o.write_buffer_bytes);
  db.max_total_wal_size = static_cast<uint64_t>(o.write_buffer_bytes) * 2;
  db.avoid_flush_during_shutdown = false;
  db.manual_wal_flush = false;
  db.keep_log_file_num = 4;
  if (o.rocksdb_env != nullptr) db.env = static_cast<rocksdb::Env*>(o.rocksdb_env);
  return db;
}

}  // namespace

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string msg = absl::StrCat(what, ": ", s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() || s.IsShutdownInProgress()) {
    return absl::UnavailableError(msg);
  }
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

absl::StatusOr<std::unique_ptr<LogStore>> OpenRocksLogStore(const RocksLogStoreOptions& options) {
  return RocksLogStore::Open(options);
}

absl::StatusOr<std::unique_ptr<LogStore>> RocksLogStore::Open(const RocksLogStoreOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("RocksLogStore: empty path");
  if (options.max_group_bytes <= 0 || options.max_queued_bytes <= 0) {
    return absl::InvalidArgumentError("RocksLogStore: group and queue limits must be positive");
  }
  std::unique_ptr<RocksLogStore> store(new RocksLogStore(options));
  if (auto s = store->OpenDb(); !s.ok()) return s;
  if (auto s = store->LoadPartitions(); !s.ok()) return s;
  store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
  return std::unique_ptr<LogStore>(std::move(store));
}

absl::Status RocksLogStore::OpenDb() {
  block_cache_ = rocksdb::NewLRUCache(static_cast<size_t>(options_.block_cache_bytes));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, CfOptions(options_, block_cache_, false));
  for (int i = 0; i < kCfCount; ++i) {
    cfs.emplace_back(kCfNames[i], CfOptions(options_, block_cache_, i == kData));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(DbOptions(options_), options_.path, cfs, &handles, &db);
  if (!s.ok()) return FromRocks(s, absl::StrCat("opening ", options_.path));
  db_.reset(db);
  // handles[0] is the unused default CF; we keep it to close it with the rest.
  for (size_t i = 1; i < handles.size(); ++i) handles_.push_back(handles[i]);
  handles_.push_back(handles[0]);
  return absl::OkStatus();
}

// Reads only the per-partition records: opening costs O(partitions), never a
// scan of the log data.
absl::Status RocksLogStore::LoadPartitions() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kPartitions)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    keys::PartitionRecord r;
    if (it->key().size() != keys::kPrefixBytes || !DecodePartitionRecord(View(it->value()), &r)) {
      return absl::DataLossError("corrupt partition record in the partitions column family");
    }
    parts_[keys::DecodePartitionPrefix(View(it->key()))] = r;
  }
  return FromRocks(it->status(), "loading partitions");
}

RocksLogStore::~RocksLogStore() {
  Close();
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  if (db_ != nullptr) {
    auto s = db_->Close();
    (void)s;  // Nothing more to do on a failed close: the WAL already has the data.
  }
}

void RocksLogStore::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return;
    closing_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (db_ == nullptr) return;  // Open failed before the database opened
  // Flush memtables so the next open replays little WAL. Failure is harmless
  // (the WAL still holds everything), so it is deliberately ignored.
  rocksdb::FlushOptions flush;
  auto s = db_->Flush(flush, handles_);
  (void)s;
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
}

void RocksLogStore::PutPartitionRecord(PartitionKey key, const keys::PartitionRecord& r,
                                       rocksdb::WriteBatch* batch) {
  auto s = batch->Put(cf(kPartitions), keys::PartitionPrefix(key), keys::EncodePartitionRecord(r));
  (void)s;  // WriteBatch::Put fails only past its max_bytes, which we never set.
}

absl::StatusOr<keys::PartitionRecord> RocksLogStore::StateLocked(PartitionKey key) const {
  auto it = parts_.find(key);
  if (it == parts_.end()) {
    return absl::NotFoundError(
        absl::StrCat("partition ", key.partition, " of topic id ", key.topic_id, " not found"));
  }
  return it->second;
}

absl::Status RocksLogStore::CreatePartition(PartitionKey key) {
  std::lock_guard<std::mutex> write_lock(write_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (parts_.contains(key)) return absl::OkStatus();
  }
  keys::PartitionRecord r;
  rocksdb::WriteBatch batch;
  PutPartitionRecord(key, r, &batch);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto s = FromRocks(db_->Write(wo, &batch), "create partition"); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  parts_[key] = r;
  return absl::OkStatus();
}

absl::Status RocksLogStore::DeletePartition(PartitionKey key) {
  std::unique_lock<std::mutex> write_lock(write_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!parts_.contains(key)) return StateLocked(key).status();
  }
  const std::string begin = keys::PartitionPrefix(key);
  const std::string end = keys::PartitionEnd(key);
  rocksdb::WriteBatch batch;
  for (Cf c : {kData, kIndex, kTimeIndex}) {
    if (auto s = batch.DeleteRange(cf(c), begin, end); !s.ok()) return FromRocks(s, "delete");
  }
  if (auto s = batch.Delete(cf(kPartitions), begin); !s.ok()) return FromRocks(s, "delete");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (auto s = FromRocks(db_->Write(wo, &batch), "delete partition"); !s.ok()) return s;
  {
    // Queued appends for this partition now fail with NOT_FOUND at commit.
    std::lock_guard<std::mutex> lock(mu_);
    parts_.erase(key);
    tombstones_.erase(key);
  }
  write_lock.unlock();
  ReclaimRange(key, begin, end, /*compact=*/true);
  return absl::OkStatus();
}

std::vector<PartitionKey> RocksLogStore::ListPartitions() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PartitionKey> out;
  out.reserve(parts_.size());
  for (const auto& [key, unused] : parts_) out.push_back(key);
  std::sort(out.begin(), out.end());
  return out;
}

void RocksLogStore::SetAppendListener(std::function<void(PartitionKey, int64_t)> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
}

// Rejections are reported synchronously on the caller's thread, before
// Append returns (the writer never sees them): callers must not hold a lock
// that `done` takes.
void RocksLogStore::Append(AppendRequest request, AppendCallback done) {
  const int64_t bytes = static_cast<int64_t>(kBatchHeaderBytes + request.payload.size());
  absl::Status rejected;
  if (request.header.record_count <= 0) {
    rejected = absl::InvalidArgumentError("append: a batch needs at least one record");
  } else {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) {
      rejected = absl::UnavailableError("log store is shutting down");
    } else if (!parts_.contains(request.partition)) {
      rejected = StateLocked(request.partition).status();
    } else if (queued_bytes_ > 0 && queued_bytes_ + bytes > options_.max_queued_bytes) {
      rejected = absl::ResourceExhaustedError(
          absl::StrCat("log store append queue full (", queued_bytes_, " of ",
                       options_.max_queued_bytes, " bytes queued); retry later"));
    } else {
      queued_bytes_ += bytes;
      queue_.push_back(Pending{std::move(request), std::move(done)});
    }
  }
  if (!rejected.ok()) {
    done(rejected);
    return;
  }
  queue_cv_.notify_one();
}

std::vector<RocksLogStore::Pending> RocksLogStore::NextGroup() {
  std::unique_lock<std::mutex> lock(mu_);
  queue_cv_.wait(lock, [this] { return !queue_.empty() || closing_; });
  std::vector<Pending> group;
  int64_t group_bytes = 0;
  while (!queue_.empty()) {
    const int64_t bytes =
        static_cast<int64_t>(kBatchHeaderBytes + queue_.front().request.payload.size());
    if (!group.empty() && group_bytes + bytes > options_.max_group_bytes) break;
    group_bytes += bytes;
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  queued_bytes_ -= group_bytes;
  return group;
}

void RocksLogStore::WriterLoop() {
  for (;;) {
    std::vector<Pending> group = NextGroup();
    // Empty only when closing and the queue is drained.
    if (group.empty()) return;
    CommitGroup(std::move(group));
  }
}

}  // namespace herald::storage

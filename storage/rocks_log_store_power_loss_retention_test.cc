// Retention and power loss, set up so that retention's DeleteFilesInRange
// really drops a whole SST file: a file deletion is a MANIFEST edit, which
// RocksDB syncs, so it is durable at once even if the retention WriteBatch
// (new log start, range tombstones) is still in an unsynced WAL tail. If the
// power goes then, the partition must not come back with a log start whose
// batches are gone.
#include <filesystem>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "storage/keys.h"
#include "storage/storage_test_util.h"
#include "storage/testing/power_loss_fs.h"

namespace herald::storage {
namespace {

using ::herald::storage::testing::AppendAndWait;
using ::herald::storage::testing::MakeRequest;
using ::herald::storage::testing::PowerLossFileSystem;
using ::herald::storage::testing::PowerLossOptions;
using ::herald::storage::testing::TempDir;

constexpr PartitionKey kKey{5, 0};

class RetentionPowerLossTest : public ::testing::Test {
 protected:
  RetentionPowerLossTest() {
    std::filesystem::create_directories(dir_.Sub("trash"));
    PowerLossOptions options;
    options.trash_dir = dir_.Sub("trash");
    fs_ = std::make_shared<PowerLossFileSystem>(rocksdb::FileSystem::Default(), options);
    env_ = rocksdb::NewCompositeEnv(fs_);
  }

  std::unique_ptr<LogStore> Open() {
    RocksLogStoreOptions options;
    options.path = dir_.Sub("db");
    options.rocksdb_env = env_.get();
    auto store = OpenRocksLogStore(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  void AppendSynced(LogStore& store, int count) {
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(AppendAndWait(store, MakeRequest(kKey, {1}, "batch", /*sync=*/true)).ok());
    }
  }

  // Opens the store's files with plain RocksDB (the store must be closed).
  std::unique_ptr<rocksdb::DB> OpenRaw(std::vector<rocksdb::ColumnFamilyHandle*>* handles) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {"default", "data", "index", "timeindex", "partitions", "metadata"}) {
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    rocksdb::DBOptions options;
    options.env = env_.get();
    rocksdb::DB* raw = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(options, dir_.Sub("db"), cfs, handles, &raw).ok());
    return std::unique_ptr<rocksdb::DB>(raw);
  }

  void CloseRaw(std::unique_ptr<rocksdb::DB> db,
                std::vector<rocksdb::ColumnFamilyHandle*> handles) {
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    ASSERT_TRUE(db->Close().ok());
  }

  // Compacts the data and index column families to the bottom level, so
  // that DeleteFilesInRange (which leaves L0 alone) can drop their files.
  void CompactToBottom() {
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    auto db = OpenRaw(&handles);
    ASSERT_NE(db, nullptr);
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    for (int cf : {1, 2})
      ASSERT_TRUE(db->CompactRange(compact, handles[cf], nullptr, nullptr).ok());
    CloseRaw(std::move(db), handles);
  }

  TempDir dir_;
  std::shared_ptr<PowerLossFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

TEST_F(RetentionPowerLossTest, LogStartNeverPointsAtDroppedFiles) {
  {
    auto store = Open();
    ASSERT_TRUE(store->CreatePartition(kKey).ok());
    AppendSynced(*store, 20);  // offsets 0..19; Close flushes them into SSTs
  }
  CompactToBottom();
  auto store = Open();
  AppendSynced(*store, 1);  // offset 20: the active batch, in the memtable
  const double sst_bytes = testing::EngineStat(*store, "sst_files_size_bytes");
  RetentionPolicy policy;
  policy.retention_bytes = 1;
  auto start = store->ApplyRetention(kKey, policy, 0);
  ASSERT_TRUE(start.ok()) << start.status();
  ASSERT_EQ(*start, 20);
  // The set-up worked: retention dropped whole files.
  ASSERT_LT(testing::EngineStat(*store, "sst_files_size_bytes"), sst_bytes);
  // The plug goes right after retention returned.
  fs_->CutPower();
  store.reset();
  ASSERT_TRUE(fs_->SimulatePowerLoss().ok());

  store = Open();
  auto stats = store->Stats(kKey);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->log_end_offset, 21);
  ReadOptions ro;
  ro.start_offset = stats->log_start_offset;
  auto read = store->Read(kKey, ro);
  ASSERT_TRUE(read.ok()) << "log start " << stats->log_start_offset << ": " << read.status();
  ASSERT_FALSE(read->batches.empty());
  EXPECT_EQ(read->batches.front().header.base_offset, stats->log_start_offset);
  EXPECT_EQ(static_cast<int64_t>(read->batches.size()), stats->batch_count);
}

// The first batch of the log missing (the shape the bug above left behind)
// is DATA_LOSS, not an empty read.
TEST_F(RetentionPowerLossTest, MissingFirstBatchIsDataLoss) {
  {
    auto store = Open();
    ASSERT_TRUE(store->CreatePartition(kKey).ok());
    AppendSynced(*store, 3);
  }
  {
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    auto db = OpenRaw(&handles);
    ASSERT_NE(db, nullptr);
    rocksdb::WriteOptions sync;
    sync.sync = true;
    ASSERT_TRUE(db->Delete(sync, handles[1], keys::OffsetKey(kKey, 0)).ok());
    CloseRaw(std::move(db), handles);
  }
  auto store = Open();
  auto read = store->Read(kKey, ReadOptions());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
  ReadOptions from_one;
  from_one.start_offset = 1;
  EXPECT_TRUE(store->Read(kKey, from_one).ok());
}

}  // namespace
}  // namespace herald::storage

// Retention by time and size, and corruption detection, on the RocksDB store.
#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/keys.h"
#include "storage/storage_test_util.h"

namespace herald::storage {
namespace {

using ::herald::storage::testing::AppendAndWait;
using ::herald::storage::testing::MakeRequest;
using ::herald::storage::testing::TempDir;

constexpr PartitionKey kP0{3, 1};

ReadOptions ReadFrom(int64_t start_offset) {
  ReadOptions options;
  options.start_offset = start_offset;
  return options;
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Open();
    ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  }
  void Open() {
    RocksLogStoreOptions options;
    options.path = dir_.Sub("db");
    options.clock = &clock_;
    options.write_buffer_bytes = 16 << 20;
    options.block_cache_bytes = 8 << 20;
    auto store = OpenRocksLogStore(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  // One batch of two timestamp-less records (max timestamp = append time).
  int64_t Append(const std::string& tag = "r") {
    auto r = AppendAndWait(*store_, MakeRequest(kP0, {0, 0}, tag));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->base_offset : -1;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<LogStore> store_;
};

TEST_F(RetentionTest, TimeRetentionDropsOldBatchesAndReadsStillWork) {
  for (int i = 0; i < 5; ++i) Append();  // offsets 0..9, time T
  clock_.AdvanceMs(10'000);
  for (int i = 0; i < 3; ++i) Append();  // offsets 10..15, time T+10s
  const RetentionPolicy policy{/*retention_ms=*/5'000, /*retention_bytes=*/-1};
  auto start = store_->ApplyRetention(kP0, policy, clock_.NowMs());
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(*start, 10);
  auto stats = *store_->Stats(kP0);
  EXPECT_EQ(stats.log_start_offset, 10);
  EXPECT_EQ(stats.batch_count, 3);

  auto read = store_->Read(kP0, ReadFrom(10));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->batches.size(), 3u);
  EXPECT_EQ(read->log_start_offset, 10);
  EXPECT_EQ(store_->Read(kP0, ReadFrom(9)).status().code(), absl::StatusCode::kOutOfRange);
  // Retention survives a reopen.
  store_.reset();
  Open();
  EXPECT_EQ(store_->Stats(kP0)->log_start_offset, 10);
  EXPECT_EQ(store_->Stats(kP0)->size_bytes, stats.size_bytes);
  EXPECT_EQ(Append(), 16);
}

TEST_F(RetentionTest, NeverDeletesTheLastBatch) {
  Append();
  Append();
  clock_.AdvanceMs(1'000'000);
  auto start = store_->ApplyRetention(kP0, RetentionPolicy{1, 0}, clock_.NowMs());
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(*start, 2);
  EXPECT_EQ(store_->Stats(kP0)->batch_count, 1);
  auto read = store_->Read(kP0, ReadFrom(2));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->batches.size(), 1u);
}

TEST_F(RetentionTest, SizeRetentionKeepsTheNewestWithinTheLimit) {
  for (int i = 0; i < 10; ++i) Append();
  const auto stats = *store_->Stats(kP0);
  const int64_t batch_bytes = stats.size_bytes / 10;
  auto start = store_->ApplyRetention(kP0, RetentionPolicy{-1, batch_bytes * 4}, clock_.NowMs());
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(*start, 12);  // 6 batches of 2 records dropped
  EXPECT_EQ(store_->Stats(kP0)->size_bytes, batch_bytes * 4);
  EXPECT_EQ(store_->Stats(kP0)->batch_count, 4);
  // Repeating is a no-op.
  EXPECT_EQ(*store_->ApplyRetention(kP0, RetentionPolicy{-1, batch_bytes * 4}, clock_.NowMs()), 12);
  auto read = store_->Read(kP0, ReadFrom(12));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->batches.size(), 4u);
}

TEST_F(RetentionTest, TruncateBeforeOffsetDropsAnExactPrefix) {
  for (int i = 0; i < 5; ++i) Append();  // batches at 0, 2, 4, 6, 8
  RetentionPolicy policy;
  policy.truncate_before_offset = 5;  // inside the batch at 4: it stays
  EXPECT_EQ(*store_->ApplyRetention(kP0, policy, clock_.NowMs()), 4);
  policy.truncate_before_offset = 6;
  EXPECT_EQ(*store_->ApplyRetention(kP0, policy, clock_.NowMs()), 6);
  EXPECT_EQ(store_->Stats(kP0)->batch_count, 2);
  policy.truncate_before_offset = 100;  // never the last batch
  EXPECT_EQ(*store_->ApplyRetention(kP0, policy, clock_.NowMs()), 8);
  auto read = store_->Read(kP0, ReadFrom(8));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->batches.size(), 1u);
}

TEST_F(RetentionTest, ManyRetentionRoundsKeepReadsCorrect) {
  // Enough rounds to trigger the periodic compaction of dropped ranges.
  int64_t expected_start = 0;
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 5; ++i) Append();
    clock_.AdvanceMs(1000);
    auto start = store_->ApplyRetention(kP0, RetentionPolicy{500, -1}, clock_.NowMs());
    ASSERT_TRUE(start.ok());
    expected_start = (round + 1) * 10 - 2;  // all but the last batch were old
    EXPECT_EQ(*start, expected_start);
    auto read = store_->Read(kP0, ReadFrom(*start));
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->batches.size(), 1u);
    EXPECT_EQ(read->batches[0].header.base_offset, expected_start);
  }
}

TEST_F(RetentionTest, OffsetForTimestampAfterRetentionFindsSurvivors) {
  // Batch maxima 1000 (dropped), 600, 2000: 600 never raised the running max.
  ASSERT_TRUE(AppendAndWait(*store_, MakeRequest(kP0, {1000}, "a")).ok());  // 0
  ASSERT_TRUE(AppendAndWait(*store_, MakeRequest(kP0, {600}, "b")).ok());   // 1
  ASSERT_TRUE(AppendAndWait(*store_, MakeRequest(kP0, {2000}, "c")).ok());  // 2
  ASSERT_TRUE(AppendAndWait(*store_, MakeRequest(kP0, {2100}, "d")).ok());  // 3
  const int64_t one_batch = store_->Stats(kP0)->size_bytes / 4;             // all the same size
  ASSERT_EQ(*store_->ApplyRetention(kP0, RetentionPolicy{-1, one_batch * 3}, clock_.NowMs()), 1);
  EXPECT_EQ(*store_->OffsetForTimestamp(kP0, 550), 1);
  EXPECT_EQ(*store_->OffsetForTimestamp(kP0, 900), 2);
  EXPECT_EQ(*store_->OffsetForTimestamp(kP0, 2050), 3);
  EXPECT_EQ(*store_->OffsetForTimestamp(kP0, 3000), 4);
}

// Rewrites the stored value at `offset` directly in RocksDB.
void CorruptBatch(const std::string& path, int64_t offset,
                  const std::function<void(std::string*)>& mutate) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* data = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "data") data = handles[i];
  }
  ASSERT_NE(data, nullptr);
  const std::string key = keys::OffsetKey(kP0, offset);
  std::string value;
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), data, key, &value).ok());
  mutate(&value);
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), data, key, value).ok());
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
}

TEST_F(RetentionTest, FlippedPayloadByteIsDataLoss) {
  Append("a");
  Append("b");
  store_.reset();
  CorruptBatch(dir_.Sub("db"), 2, [](std::string* v) { (*v)[v->size() - 1] ^= 0x20; });
  Open();
  auto read = store_->Read(kP0, ReadOptions{});
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
  // Without verification the bytes come back as they are.
  ReadOptions unverified;
  unverified.verify_checksums = false;
  read = store_->Read(kP0, unverified);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->batches.size(), 2u);
}

TEST_F(RetentionTest, BatchStoredUnderTheWrongOffsetIsDataLoss) {
  Append("a");
  Append("b");
  store_.reset();
  CorruptBatch(dir_.Sub("db"), 2, [](std::string* v) {
    BatchHeader h = *DecodeBatchHeader(*v);
    h.base_offset = 7;
    EncodeBatchHeader(h, v->data());  // a valid header, in the wrong place
  });
  Open();
  auto read = store_->Read(kP0, ReadOptions{});
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
  EXPECT_THAT(read.status().message(), ::testing::HasSubstr("base offset 7"));
}

}  // namespace
}  // namespace herald::storage

// Contract tests of the in-memory LogStore (storage/memory_log_store.cc).
#include <atomic>

#include "broker/test_util.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "storage/log_store.h"

namespace herald::storage {
namespace {

using broker::testing::OneRecord;

absl::StatusOr<AppendResult> AppendSync(LogStore* store, PartitionKey key, std::string payload,
                                        int32_t records = 1) {
  AppendRequest req;
  req.partition = key;
  req.header.record_count = records;
  req.header.payload_crc = Crc32c(payload);
  req.payload = std::move(payload);
  absl::StatusOr<AppendResult> out = absl::UnknownError("callback not run");
  store->Append(std::move(req), [&](absl::StatusOr<AppendResult> r) { out = std::move(r); });
  return out;  // the memory store completes synchronously
}

TEST(MemoryLogStore, DenseOffsetsReadsAndListener) {
  FakeClock clock;
  auto store = NewMemoryLogStore(&clock);
  const PartitionKey key{1, 0};
  ASSERT_TRUE(store->CreatePartition(key).ok());
  std::atomic<int64_t> reported{0};
  store->SetAppendListener([&](PartitionKey, int64_t end) { reported.store(end); });
  EXPECT_EQ(AppendSync(store.get(), key, OneRecord("a"), 1)->base_offset, 0);
  EXPECT_EQ(AppendSync(store.get(), key, OneRecord("b"), 3)->base_offset, 1);
  EXPECT_EQ(reported.load(), 4);
  auto read = store->Read(key, {2, 1 << 20, INT64_MAX, true});
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->batches.size(), 1u);  // the batch containing offset 2
  EXPECT_EQ(read->batches[0].header.base_offset, 1);
  EXPECT_TRUE(store->Read(key, {4, 1 << 20, INT64_MAX, true})->batches.empty());
  EXPECT_EQ(store->Read(key, {5, 1 << 20, INT64_MAX, true}).status().message(),
            "offset 5 is out of range [0, 4]");
  EXPECT_EQ(AppendSync(store.get(), {9, 9}, OneRecord("x")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(MemoryLogStore, RetentionKeepsTheActiveBatchAndTimestampLookup) {
  FakeClock clock;
  auto store = NewMemoryLogStore(&clock);
  const PartitionKey key{1, 0};
  ASSERT_TRUE(store->CreatePartition(key).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(AppendSync(store.get(), key, OneRecord("v")).ok());
    clock.AdvanceMs(1000);
  }
  const int64_t now = clock.NowMs();
  EXPECT_EQ(*store->OffsetForTimestamp(key, now - 2500), 1);
  EXPECT_EQ(*store->OffsetForTimestamp(key, now + 1), 3);
  EXPECT_EQ(*store->ApplyRetention(key, {1500, -1}, now), 2);
  EXPECT_EQ(*store->ApplyRetention(key, {1, -1}, now + 100000), 2);  // active batch stays
  ASSERT_TRUE(store->TruncateSuffix(key, 2).ok());
  EXPECT_EQ(store->Stats(key)->log_end_offset, 2);
}

TEST(MemoryLogStore, MetadataAndClose) {
  auto store = NewMemoryLogStore();
  ASSERT_TRUE(store->WriteMetadata({{"a/1", "x"}, {"a/2", "y"}, {"b", "z"}}).ok());
  EXPECT_EQ(store->ScanMetadata("a/")->size(), 2u);
  ASSERT_TRUE(store->WriteMetadata({{"a/1", std::nullopt}}).ok());
  EXPECT_FALSE(store->GetMetadata("a/1")->has_value());
  EXPECT_EQ(**store->GetMetadata("b"), "z");
  ASSERT_TRUE(store->CreatePartition({1, 0}).ok());
  store->Close();
  EXPECT_EQ(AppendSync(store.get(), {1, 0}, OneRecord("x")).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace herald::storage

#include "src/decode.h"

#include <deque>

#include "gtest/gtest.h"

namespace herald::client::internal {
namespace {

v1::ConsumedBatch MakeBatch(int64_t base_offset, int records, int64_t append_time_ms) {
  v1::ConsumedBatch batch;
  batch.set_topic("t");
  batch.set_partition(2);
  batch.set_base_offset(base_offset);
  batch.set_append_time_ms(append_time_ms);
  batch.set_timestamp_type(v1::TIMESTAMP_TYPE_CREATE_TIME);
  for (int i = 0; i < records; ++i) {
    v1::Record* r = batch.add_records();
    r->set_key("k" + std::to_string(i));
    r->set_value("v" + std::to_string(i));
    r->set_timestamp_ms(i == 0 ? 0 : 1000 + i);
    auto* h = r->add_headers();
    h->set_key("hk");
    h->set_value("hv");
  }
  return batch;
}

TEST(Decode, SkipsRecordsBeforeTheRequestedOffsetWithinABatch) {
  std::deque<ConsumedRecord> out;
  ReadCursor cursor{12, -1};
  EXPECT_EQ(AppendNewRecords(MakeBatch(10, 5, 500), &cursor, &out), 3);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].offset, 12);
  EXPECT_EQ(out[0].key, "k2");
  EXPECT_EQ(out[2].offset, 14);
  EXPECT_EQ(out[0].partition, 2);
  EXPECT_EQ(out[0].topic, "t");
  ASSERT_EQ(out[0].headers.size(), 1u);
  EXPECT_EQ(out[0].headers[0].value, "hv");
  EXPECT_EQ(cursor.next_offset, 15);
}

TEST(Decode, ReplayedBatchAfterReconnectYieldsNothing) {
  std::deque<ConsumedRecord> out;
  ReadCursor cursor{15, -1};
  EXPECT_EQ(AppendNewRecords(MakeBatch(10, 5, 500), &cursor, &out), 0);
  EXPECT_TRUE(out.empty());
}

TEST(Decode, UnknownStartAcceptsTheFirstRecord) {
  std::deque<ConsumedRecord> out;
  ReadCursor cursor;
  EXPECT_EQ(AppendNewRecords(MakeBatch(7, 2, 500), &cursor, &out), 2);
  EXPECT_EQ(cursor.next_offset, 9);
}

TEST(Decode, RecordWithoutTimestampGetsTheAppendTime) {
  std::deque<ConsumedRecord> out;
  ReadCursor cursor;
  AppendNewRecords(MakeBatch(0, 2, 500), &cursor, &out);
  EXPECT_EQ(out[0].timestamp_ms, 500);  // timestamp_ms 0 in the record
  EXPECT_EQ(out[1].timestamp_ms, 1001);
  EXPECT_EQ(out[1].timestamp_kind, TimestampKind::kCreateTime);
}

TEST(Decode, LogAppendTimeTopicsUseTheAppendTimeForEveryRecord) {
  v1::ConsumedBatch batch = MakeBatch(0, 3, 777);
  batch.set_timestamp_type(v1::TIMESTAMP_TYPE_LOG_APPEND_TIME);
  std::deque<ConsumedRecord> out;
  ReadCursor cursor;
  AppendNewRecords(batch, &cursor, &out);
  for (const ConsumedRecord& r : out) {
    EXPECT_EQ(r.timestamp_ms, 777);
    EXPECT_EQ(r.timestamp_kind, TimestampKind::kLogAppendTime);
  }
}

TEST(Decode, TimestampStartSkipsOlderRecordsOfTheFirstBatch) {
  std::deque<ConsumedRecord> out;
  ReadCursor cursor{-1, 1003};
  EXPECT_EQ(AppendNewRecords(MakeBatch(0, 5, 500), &cursor, &out), 2);
  EXPECT_EQ(out[0].offset, 3);
  EXPECT_EQ(cursor.next_offset, 5);
}

}  // namespace
}  // namespace herald::client::internal

#include "server/batch_encoder.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "herald/v1/broker.pb.h"
#include "server/produce_codec.h"

namespace herald::server {
namespace {

v1::RecordBatch MakeRecords(const std::string& prefix, int n) {
  v1::RecordBatch batch;
  for (int i = 0; i < n; ++i) {
    v1::Record* r = batch.add_records();
    r->set_key(prefix + "-key-" + std::to_string(i));
    r->set_value(std::string(100 + i, static_cast<char>('a' + i)));
    r->set_timestamp_ms(1000 + i);
    v1::Header* h = r->add_headers();
    h->set_key("h");
    h->set_value("v" + std::to_string(i));
  }
  return batch;
}

broker::FetchedBatch MakeFetched(const std::string& topic, int32_t partition, int64_t base_offset,
                                 const v1::RecordBatch& records) {
  BatchHeader header;
  header.base_offset = base_offset;
  header.append_time_ms = 1'700'000'000'123;
  header.leader_epoch = 7;
  header.producer_id = -1;
  header.record_count = records.records_size();
  header.timestamp_type = TimestampType::kLogAppendTime;
  return {topic, partition, header, EncodeBatch(header, records.SerializeAsString())};
}

void ExpectSameRecords(const v1::RecordBatch& want, const v1::ConsumedBatch& got) {
  ASSERT_EQ(got.records_size(), want.records_size());
  for (int i = 0; i < want.records_size(); ++i) {
    EXPECT_EQ(got.records(i).SerializeAsString(), want.records(i).SerializeAsString()) << i;
  }
}

TEST(BatchEncoder, SubscribeResponseParsesBackToTheStoredRecordsAndMetadata) {
  const v1::RecordBatch a = MakeRecords("a", 3);
  const v1::RecordBatch b = MakeRecords("b", 1);
  std::vector<broker::FetchedBatch> batches;
  batches.push_back(MakeFetched("orders", 2, 40, a));
  batches.push_back(MakeFetched("payments", 0, 0, b));

  v1::SubscribeResponse response;
  ASSERT_TRUE(response.ParseFromString(ByteBufferToString(EncodeSubscribeBatches(batches))));
  ASSERT_TRUE(response.has_batches());
  ASSERT_EQ(response.batches().batches_size(), 2);
  const v1::ConsumedBatch& first = response.batches().batches(0);
  EXPECT_EQ(first.topic(), "orders");
  EXPECT_EQ(first.partition(), 2);
  EXPECT_EQ(first.base_offset(), 40);
  EXPECT_EQ(first.append_time_ms(), 1'700'000'000'123);
  EXPECT_EQ(first.timestamp_type(), v1::TIMESTAMP_TYPE_LOG_APPEND_TIME);
  EXPECT_EQ(first.leader_epoch(), 7);
  EXPECT_EQ(first.producer_id(), -1);
  ExpectSameRecords(a, first);
  EXPECT_EQ(response.batches().batches(1).topic(), "payments");
  ExpectSameRecords(b, response.batches().batches(1));
}

TEST(BatchEncoder, PayloadIsHandedToGrpcWithoutCopying) {
  const v1::RecordBatch a = MakeRecords("a", 5);  // well beyond the SSO size
  std::vector<broker::FetchedBatch> batches;
  batches.push_back(MakeFetched("t", 0, 0, a));
  const char* payload = batches[0].stored.data() + kBatchHeaderBytes;
  const size_t payload_size = batches[0].stored.size() - kBatchHeaderBytes;

  grpc::ByteBuffer buffer = EncodeSubscribeBatches(std::move(batches));
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(buffer.Dump(&slices).ok());
  bool found = false;
  for (const grpc::Slice& s : slices) {
    if (reinterpret_cast<const char*>(s.begin()) == payload) {
      found = true;
      EXPECT_EQ(s.size(), payload_size);
    }
  }
  EXPECT_TRUE(found) << "no slice points at the stored payload bytes";
}

TEST(BatchEncoder, EmptyDeliveryIsAnEmptyRecordBatchesEvent) {
  v1::SubscribeResponse response;
  ASSERT_TRUE(response.ParseFromString(ByteBufferToString(EncodeSubscribeBatches({}))));
  EXPECT_TRUE(response.has_batches());
  EXPECT_EQ(response.batches().batches_size(), 0);
}

TEST(BatchEncoder, FetchResponseCarriesBatchesAndOffsets) {
  const v1::RecordBatch a = MakeRecords("x", 2);
  broker::FetchResult result;
  result.batches.push_back(MakeFetched("t", 1, 10, a));
  result.log_start_offset = 5;
  result.high_watermark = 12;

  v1::FetchResponse response;
  ASSERT_TRUE(response.ParseFromString(ByteBufferToString(EncodeFetchResponse(result))));
  EXPECT_EQ(response.log_start_offset(), 5);
  EXPECT_EQ(response.high_watermark(), 12);
  ASSERT_EQ(response.batches_size(), 1);
  EXPECT_EQ(response.batches(0).base_offset(), 10);
  EXPECT_EQ(response.batches(0).partition(), 1);
  ExpectSameRecords(a, response.batches(0));
}

TEST(BatchEncoder, PayloadBytesCountsRecordsNotHeaders) {
  const v1::RecordBatch a = MakeRecords("x", 2);
  std::vector<broker::FetchedBatch> batches{MakeFetched("t", 0, 0, a)};
  EXPECT_EQ(PayloadBytes(batches), static_cast<int64_t>(a.ByteSizeLong()));
}

}  // namespace
}  // namespace herald::server

#include "server/produce_codec.h"

#include "gtest/gtest.h"

namespace herald::server {
namespace {

v1::ProduceRequest FullRequest() {
  v1::ProduceRequest r;
  r.set_request_id(0xFFFFFFFFFFFFull);
  r.set_topic("orders");
  r.set_partition(3);
  auto* rec = r.mutable_batch()->add_records();
  rec->set_key("k");
  rec->set_value("v");
  r.mutable_batch()->add_records()->set_value("second");
  r.set_acks(v1::ACKS_LEADER);
  r.set_producer_id(42);
  r.set_producer_epoch(2);
  r.set_base_sequence(-7);
  return r;
}

TEST(ProduceCodec, ParsesEveryFieldAndKeepsTheBatchBytesAsSent) {
  const v1::ProduceRequest r = FullRequest();
  auto parsed = ParseProduceRequest(r.SerializeAsString());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request_id, r.request_id());
  EXPECT_EQ(parsed->topic, "orders");
  ASSERT_TRUE(parsed->partition.has_value());
  EXPECT_EQ(*parsed->partition, 3);
  EXPECT_EQ(parsed->batch, r.batch().SerializeAsString());
  EXPECT_EQ(parsed->acks, v1::ACKS_LEADER);
  EXPECT_EQ(parsed->producer_id, 42);
  EXPECT_EQ(parsed->producer_epoch, 2);
  EXPECT_EQ(parsed->base_sequence, -7);
}

TEST(ProduceCodec, UnsetPartitionIsNulloptButExplicitZeroIsKept) {
  v1::ProduceRequest r = FullRequest();
  r.clear_partition();
  EXPECT_FALSE(ParseProduceRequest(r.SerializeAsString())->partition.has_value());
  r.set_partition(0);
  EXPECT_EQ(ParseProduceRequest(r.SerializeAsString())->partition, 0);
  r.set_partition(-1);
  EXPECT_EQ(ParseProduceRequest(r.SerializeAsString())->partition, -1);
}

TEST(ProduceCodec, GarbageIsInvalidArgument) {
  auto parsed = ParseProduceRequest(std::string("\xff\xff\xff", 3));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  // field 2 (topic) sent as a varint: wrong wire type.
  parsed = ParseProduceRequest(std::string("\x10\x01", 2));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProduceCodec, UnknownFieldsAreSkipped) {
  std::string bytes = FullRequest().SerializeAsString();
  bytes += std::string("\xa0\x06\x05", 3);  // field 100, varint 5
  EXPECT_TRUE(ParseProduceRequest(bytes).ok());
}

TEST(ProduceCodec, ByteBufferRoundTrip) {
  const v1::ProduceRequest r = FullRequest();
  EXPECT_EQ(ByteBufferToString(MessageToByteBuffer(r)), r.SerializeAsString());
}

}  // namespace
}  // namespace herald::server

// Idempotent producers end to end: a retried batch is written once, gaps are
// refused, a newer instance fences the older one, and the dedupe state
// survives a restart.
#include "absl/strings/str_cat.h"
#include "tests/integration/fixture.h"

namespace herald::testing {
namespace {

class Idempotence : public IntegrationTest {
 protected:
  herald::v1::InitProducerResponse InitProducer(const std::string& transactional_id = "") {
    grpc::ClientContext context;
    herald::v1::InitProducerRequest request;
    request.set_transactional_id(transactional_id);
    herald::v1::InitProducerResponse response;
    const grpc::Status s = broker_->InitProducer(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  static herald::v1::ProduceRequest Batch(const herald::v1::InitProducerResponse& producer,
                                          int32_t base_sequence, int records,
                                          const std::string& prefix) {
    herald::v1::ProduceRequest request;
    request.set_topic("payments");
    request.set_partition(0);
    *request.mutable_batch() = MakeBatch(records, prefix);
    request.set_acks(herald::v1::ACKS_ALL);
    request.set_producer_id(producer.producer_id());
    request.set_producer_epoch(producer.producer_epoch());
    request.set_base_sequence(base_sequence);
    return request;
  }

  // Sends on a fresh stream (a retry after reconnecting) and waits.
  herald::v1::ProduceResponse Send(herald::v1::ProduceRequest request) {
    ProduceClient client(broker_.get());
    request.set_request_id(1);
    EXPECT_TRUE(client.Send(request));
    auto response = client.Wait(1);
    EXPECT_TRUE(response.ok()) << response.status();
    client.Finish();
    return response.ok() ? *response : herald::v1::ProduceResponse{};
  }
};

TEST_F(Idempotence, RetriedBatchIsAnsweredWithTheOriginalOffsetsAndStoredOnce) {
  MakeTopic("payments", 1);
  const auto producer = InitProducer();
  EXPECT_GT(producer.producer_id(), 0);
  auto first = Send(Batch(producer, 0, 3, "a"));
  ASSERT_FALSE(first.has_error()) << first.error().message();
  EXPECT_FALSE(first.duplicate());
  auto second = Send(Batch(producer, 3, 2, "b"));
  ASSERT_FALSE(second.has_error()) << second.error().message();

  auto retry = Send(Batch(producer, 0, 3, "a"));  // the ack of the first was "lost"
  ASSERT_FALSE(retry.has_error()) << retry.error().message();
  EXPECT_TRUE(retry.duplicate());
  EXPECT_EQ(retry.base_offset(), first.base_offset());

  auto next = Send(Batch(producer, 5, 1, "c"));
  ASSERT_FALSE(next.has_error()) << next.error().message();
  EXPECT_EQ(next.base_offset(), 5) << "the duplicate must not have taken offsets";
  auto read = FetchRecords(broker_.get(), "payments", 0, 0, 6);
  ASSERT_TRUE(read.ok()) << read.status();
  std::vector<std::string> values;
  for (const auto& r : *read) values.push_back(r.record.value());
  EXPECT_EQ(values, (std::vector<std::string>{"a-0", "a-1", "a-2", "b-0", "b-1", "c-0"}));
}

TEST_F(Idempotence, SequenceGapIsOutOfRangeAndWritesNothing) {
  MakeTopic("payments", 1);
  const auto producer = InitProducer();
  ASSERT_FALSE(Send(Batch(producer, 0, 3, "a")).has_error());
  auto gap = Send(Batch(producer, 10, 1, "gap"));
  ASSERT_TRUE(gap.has_error());
  EXPECT_EQ(gap.error().code(), grpc::StatusCode::OUT_OF_RANGE) << gap.error().message();
  auto next = Send(Batch(producer, 3, 1, "b"));
  ASSERT_FALSE(next.has_error()) << next.error().message();
  EXPECT_EQ(next.base_offset(), 3);
}

TEST_F(Idempotence, NewInstanceWithTheSameTransactionalIdFencesTheOld) {
  MakeTopic("payments", 1);
  const auto old_instance = InitProducer("payments-writer");
  ASSERT_FALSE(Send(Batch(old_instance, 0, 1, "old")).has_error());
  const auto new_instance = InitProducer("payments-writer");
  EXPECT_EQ(new_instance.producer_id(), old_instance.producer_id());
  EXPECT_GT(new_instance.producer_epoch(), old_instance.producer_epoch());

  auto fenced = Send(Batch(old_instance, 1, 1, "zombie"));
  ASSERT_TRUE(fenced.has_error());
  EXPECT_EQ(fenced.error().code(), grpc::StatusCode::ABORTED) << fenced.error().message();
  auto fresh = Send(Batch(new_instance, 0, 1, "new"));
  ASSERT_FALSE(fresh.has_error()) << fresh.error().message();
  EXPECT_EQ(fresh.base_offset(), 1);
}

TEST_F(Idempotence, RetryAfterARestartIsStillRecognised) {
  MakeTopic("payments", 1);
  const auto producer = InitProducer();
  auto first = Send(Batch(producer, 0, 4, "a"));
  ASSERT_FALSE(first.has_error()) << first.error().message();
  RestartServer();
  auto retry = Send(Batch(producer, 0, 4, "a"));
  ASSERT_FALSE(retry.has_error()) << retry.error().message();
  EXPECT_TRUE(retry.duplicate()) << "dedupe state must be rebuilt from the log on restart";
  EXPECT_EQ(retry.base_offset(), 0);
  auto next = Send(Batch(producer, 4, 1, "b"));
  ASSERT_FALSE(next.has_error()) << next.error().message();
  EXPECT_EQ(next.base_offset(), 4);
}

}  // namespace
}  // namespace herald::testing

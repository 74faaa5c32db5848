// Every kind of bad input gets the right status and the server stays up.
#include "absl/strings/str_cat.h"
#include "common/wire.h"
#include "tests/integration/fixture.h"

namespace herald::testing {
namespace {

using grpc::StatusCode;
using herald::v1::ProduceResponse;

class BadInput : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    if (HasFatalFailure()) return;
    herald::v1::TopicConfig config;
    config.set_max_message_bytes(10'000);
    MakeTopic("bad-input", 2, config);
    ASSERT_TRUE(ProduceOnce(broker_.get(), "bad-input", 0, MakeBatch(37, "x")).ok());
  }

  void TearDown() override {
    if (server_ != nullptr && !HasFatalFailure()) {
      EXPECT_TRUE(server_->IsRunning()) << "server died";
      ExpectHealthy();
    }
  }

  // The in-band error (or OK) of one produce request on a fresh stream.
  ProduceResponse ProduceError(const herald::v1::ProduceRequest& request) {
    ProduceClient client(broker_.get());
    EXPECT_TRUE(client.Send(request));
    auto response = client.Wait(request.request_id());
    EXPECT_TRUE(response.ok()) << response.status();
    // The stream survives an in-band error: a good batch still works.
    auto good = client.Send("bad-input", 1, MakeBatch(1, "after-error"));
    EXPECT_TRUE(good.has_value());
    if (good.has_value()) {
      auto after = client.Wait(*good);
      EXPECT_TRUE(after.ok() && !after->has_error()) << "stream broken after an in-band error";
    }
    EXPECT_TRUE(client.Finish().ok());
    ExpectHealthy();
    return response.ok() ? *response : ProduceResponse();
  }

  herald::v1::ProduceRequest Request(const std::string& topic, std::optional<int32_t> partition,
                                     const herald::v1::RecordBatch& batch) {
    herald::v1::ProduceRequest request;
    request.set_request_id(1000);
    request.set_topic(topic);
    if (partition.has_value()) request.set_partition(*partition);
    *request.mutable_batch() = batch;
    return request;
  }

  grpc::Status Fetch(const std::string& topic, int32_t partition, int64_t offset) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    herald::v1::FetchRequest request;
    request.set_topic(topic);
    request.set_partition(partition);
    request.set_offset(offset);
    herald::v1::FetchResponse response;
    return broker_->Fetch(&context, request, &response);
  }

  grpc::Status Create(const std::string& name, int32_t partitions,
                      const herald::v1::TopicConfig& config = {}, int32_t replication = 0) {
    return CreateTopic(admin_.get(), name, partitions, config, replication);
  }

  // The status a Subscribe stream ends with after `first`.
  grpc::Status SubscribeStatus(const herald::v1::SubscribeRequest& first) {
    SubscribeClient sub(broker_.get(), first);
    std::optional<grpc::Status> status = sub.WaitDone(10'000);
    EXPECT_TRUE(status.has_value()) << "subscribe stream was not ended by the server";
    return status.value_or(grpc::Status(StatusCode::DEADLINE_EXCEEDED, "not ended"));
  }
};

#define EXPECT_CODE(status, code) EXPECT_EQ((status).error_code(), code) << (status).error_message()

TEST_F(BadInput, UnknownTopicIsNotFoundEverywhere) {
  ProduceResponse r = ProduceError(Request("no-such-topic", 0, MakeBatch(1, "v")));
  EXPECT_EQ(r.error().code(), StatusCode::NOT_FOUND) << r.error().message();
  EXPECT_CODE(Fetch("no-such-topic", 0, 0), StatusCode::NOT_FOUND);
  auto described = DescribeTopic(admin_.get(), "no-such-topic");
  EXPECT_EQ(described.status().code(), absl::StatusCode::kNotFound) << described.status();
  EXPECT_CODE(SubscribeStatus(StartRequest({{"no-such-topic", 0}}, Earliest(), 10)),
              StatusCode::NOT_FOUND);
  grpc::ClientContext context;
  herald::v1::ListOffsetsRequest request;
  request.set_topic("no-such-topic");
  herald::v1::ListOffsetsResponse response;
  EXPECT_CODE(broker_->ListOffsets(&context, request, &response), StatusCode::NOT_FOUND);
}

TEST_F(BadInput, BadTopicNamesAreInvalidArgument) {
  for (const std::string& name :
       {std::string(""), std::string("."), std::string(".."), std::string("has space"),
        std::string("slash/name"), std::string(250, 'a'), std::string("__internal"),
        std::string("nul\0byte", 8), std::string("caf\xc3\xa9")}) {
    EXPECT_CODE(Create(name, 1), StatusCode::INVALID_ARGUMENT) << " name '" << name << "'";
  }
  EXPECT_TRUE(Create(std::string(249, 'a'), 1).ok()) << "249 characters are allowed";
  EXPECT_CODE(Fetch("", 0, 0), StatusCode::INVALID_ARGUMENT);
  ProduceResponse r = ProduceError(Request("bad name", 0, MakeBatch(1, "v")));
  EXPECT_EQ(r.error().code(), StatusCode::INVALID_ARGUMENT) << r.error().message();
}

TEST_F(BadInput, OversizedBatchIsInvalidArgumentNamingTheLimit) {
  std::vector<TestRecord> records(1);
  records[0].value = std::string(20'000, 'z');
  ProduceResponse r = ProduceError(Request("bad-input", 0, MakeBatch(records)));
  EXPECT_EQ(r.error().code(), StatusCode::INVALID_ARGUMENT) << r.error().message();
  EXPECT_NE(r.error().message().find("10000"), std::string::npos)
      << "message does not name the 10000 byte limit: " << r.error().message();
}

TEST_F(BadInput, PartitionOutOfRangeAndNegativeArgumentsAreRejected) {
  ProduceResponse beyond = ProduceError(Request("bad-input", 2, MakeBatch(1, "v")));
  EXPECT_EQ(beyond.error().code(), StatusCode::NOT_FOUND) << beyond.error().message();
  ProduceResponse negative = ProduceError(Request("bad-input", -1, MakeBatch(1, "v")));
  EXPECT_EQ(negative.error().code(), StatusCode::INVALID_ARGUMENT) << negative.error().message();
  EXPECT_CODE(Fetch("bad-input", 2, 0), StatusCode::NOT_FOUND);
  EXPECT_CODE(Fetch("bad-input", -1, 0), StatusCode::INVALID_ARGUMENT);
  // A negative offset is outside [log start, log end]: either code is right.
  const grpc::Status negative_offset = Fetch("bad-input", 0, -1);
  EXPECT_TRUE(negative_offset.error_code() == StatusCode::INVALID_ARGUMENT ||
              negative_offset.error_code() == StatusCode::OUT_OF_RANGE)
      << negative_offset.error_code() << " " << negative_offset.error_message();
  EXPECT_CODE(SubscribeStatus(StartRequest({{"bad-input", 9}}, Earliest(), 10)),
              StatusCode::NOT_FOUND);
}

TEST_F(BadInput, OffsetBeyondTheEndIsOutOfRangeNamingBothBounds) {
  const grpc::Status status = Fetch("bad-input", 0, 1000);
  EXPECT_CODE(status, StatusCode::OUT_OF_RANGE);
  EXPECT_NE(status.error_message().find("37"), std::string::npos) << status.error_message();
  EXPECT_NE(status.error_message().find("0"), std::string::npos) << status.error_message();
  EXPECT_CODE(SubscribeStatus(StartRequest({{"bad-input", 0}}, AtOffset(1000), 10)),
              StatusCode::OUT_OF_RANGE);
  herald::v1::CommitOffsetsRequest request;
  request.set_group("g");
  auto* offset = request.add_offsets();
  offset->set_topic("bad-input");
  offset->set_offset(1000);
  grpc::ClientContext context;
  herald::v1::CommitOffsetsResponse response;
  const grpc::Status commit = broker_->CommitOffsets(&context, request, &response);
  const int code = commit.ok() && response.results_size() == 1 ? response.results(0).error().code()
                                                               : commit.error_code();
  EXPECT_EQ(code, StatusCode::OUT_OF_RANGE) << "commit beyond the high watermark";
}

TEST_F(BadInput, EmptyBatchIsInvalidArgument) {
  ProduceResponse r = ProduceError(Request("bad-input", 0, herald::v1::RecordBatch()));
  EXPECT_EQ(r.error().code(), StatusCode::INVALID_ARGUMENT) << r.error().message();
}

TEST_F(BadInput, MalformedProduceBytesAreRejectedAndTheServerStaysUp) {
  // Not a protobuf at all: an overlong varint tag.
  GenericResult garbage =
      GenericBidi(server_->NewChannel(), "/herald.v1.Broker/Produce", {std::string(12, '\xff')});
  const bool in_band = !garbage.responses.empty();
  if (in_band) {
    ProduceResponse r;
    ASSERT_TRUE(r.ParseFromString(garbage.responses[0]));
    EXPECT_EQ(r.error().code(), StatusCode::INVALID_ARGUMENT) << r.error().message();
  } else {
    EXPECT_CODE(garbage.status, StatusCode::INVALID_ARGUMENT);
  }
  ExpectHealthy();
  // A well-formed request whose batch holds a truncated Record, then a good
  // request on the same stream: in-band error for the first only.
  std::string bad_request;
  wire::AppendTag(&bad_request, 1, wire::kVarint);
  wire::AppendVarint(&bad_request, 7);
  wire::AppendTag(&bad_request, 2, wire::kLengthDelimited);
  wire::AppendVarint(&bad_request, 9);
  bad_request += "bad-input";
  wire::AppendTag(&bad_request, 3, wire::kVarint);
  wire::AppendVarint(&bad_request, 0);
  wire::AppendTag(&bad_request, 4, wire::kLengthDelimited);
  wire::AppendVarint(&bad_request, 3);
  bad_request += std::string("\x0a\x05\x01", 3);  // Record of 5 bytes, 1 present.
  herald::v1::ProduceRequest good = Request("bad-input", 0, MakeBatch(1, "good"));
  good.set_request_id(8);
  GenericResult mixed = GenericBidi(server_->NewChannel(), "/herald.v1.Broker/Produce",
                                    {bad_request, good.SerializeAsString()});
  EXPECT_TRUE(mixed.status.ok()) << mixed.status.error_code() << " "
                                 << mixed.status.error_message();
  ASSERT_EQ(mixed.responses.size(), 2u);
  std::map<uint64_t, ProduceResponse> by_id;
  for (const std::string& bytes : mixed.responses) {
    ProduceResponse r;
    ASSERT_TRUE(r.ParseFromString(bytes));
    by_id[r.request_id()] = r;
  }
  EXPECT_EQ(by_id[7].error().code(), StatusCode::INVALID_ARGUMENT) << by_id[7].error().message();
  EXPECT_FALSE(by_id[8].has_error()) << by_id[8].error().message();
  EXPECT_EQ(by_id[8].base_offset(), 37);
}

TEST_F(BadInput, MalformedCreateTopicBytesAreInvalidArgument) {
  GenericResult result = GenericUnary(server_->NewChannel(), "/herald.v1.Admin/CreateTopic",
                                      std::string("\x0a\x7f\x61\x62", 4));  // Truncated name.
  EXPECT_CODE(result.status, StatusCode::INVALID_ARGUMENT);
  // Control: the same generic path with a well-formed request works.
  herald::v1::CreateTopicRequest good;
  good.set_name("generic-ok");
  good.set_partitions(1);
  GenericResult created =
      GenericUnary(server_->NewChannel(), "/herald.v1.Admin/CreateTopic", good.SerializeAsString());
  EXPECT_TRUE(created.status.ok())
      << created.status.error_code() << " " << created.status.error_message();
}

TEST_F(BadInput, SubscribeMustStartWithStart) {
  herald::v1::SubscribeRequest credit;
  credit.mutable_credit()->set_records(10);
  EXPECT_CODE(SubscribeStatus(credit), StatusCode::INVALID_ARGUMENT);
  herald::v1::SubscribeRequest empty;
  EXPECT_CODE(SubscribeStatus(empty), StatusCode::INVALID_ARGUMENT);
}

TEST_F(BadInput, DuplicateTopicIsAlreadyExists) {
  EXPECT_CODE(Create("bad-input", 2), StatusCode::ALREADY_EXISTS);
}

TEST_F(BadInput, ReplicationFactorAboveOneOnOneNodeIsInvalidArgument) {
  EXPECT_CODE(Create("replicated", 1, {}, 2), StatusCode::INVALID_ARGUMENT);
  EXPECT_CODE(Create("replicated", 1, {}, -1), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Create("replicated", 1, {}, 1).ok());
}

TEST_F(BadInput, InvalidConfigsAreInvalidArgument) {
  EXPECT_CODE(Create("neg-partitions", -1), StatusCode::INVALID_ARGUMENT);
  std::vector<herald::v1::TopicConfig> configs(5);
  configs[0].set_retention_ms(-5);
  configs[1].set_retention_bytes(-7);
  configs[2].set_max_message_bytes(0);
  configs[3].set_max_message_bytes(1 << 30);  // Above the broker's limit.
  configs[4].set_timestamp_type(static_cast<herald::v1::TimestampType>(99));
  for (size_t i = 0; i < configs.size(); ++i) {
    EXPECT_CODE(Create(absl::StrCat("bad-config-", i), 1, configs[i]), StatusCode::INVALID_ARGUMENT)
        << configs[i].ShortDebugString();
    grpc::ClientContext context;
    herald::v1::AlterTopicConfigRequest alter;
    alter.set_name("bad-input");
    *alter.mutable_config() = configs[i];
    herald::v1::AlterTopicConfigResponse response;
    EXPECT_CODE(admin_->AlterTopicConfig(&context, alter, &response), StatusCode::INVALID_ARGUMENT)
        << "alter " << configs[i].ShortDebugString();
  }
}

}  // namespace
}  // namespace herald::testing

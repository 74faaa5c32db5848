// Start positions, ListOffsets, Subscribe credit and latency, Fetch ranges
// and long polls.
#include <algorithm>
#include <future>
#include <map>

#include "absl/strings/str_cat.h"
#include "tests/integration/fixture.h"

namespace herald::testing {
namespace {

using herald::v1::SubscribeResponse;

class Consume : public IntegrationTest {
 protected:
  // Produces `count` single-record batches to partition 0 with timestamps
  // base_ts + i * 1000; values "r<i>".
  void ProduceTimed(const std::string& topic, int count, int64_t base_ts) {
    ProduceClient producer(broker_.get());
    for (int i = 0; i < count; ++i) {
      TestRecord r;
      r.value = absl::StrCat("r", i);
      r.timestamp_ms = base_ts + i * 1000;
      auto id = producer.Send(topic, 0, MakeBatch({r}));
      ASSERT_TRUE(id.has_value());
      auto resp = producer.Wait(*id);
      ASSERT_TRUE(resp.ok()) << resp.status();
      ASSERT_FALSE(resp->has_error()) << resp->error().message();
    }
    EXPECT_TRUE(producer.Finish().ok());
  }

  absl::StatusOr<herald::v1::ListOffsetsResponse::PartitionOffsets> ListOffset(
      const std::string& topic, const herald::v1::StartPosition& position) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    herald::v1::ListOffsetsRequest request;
    request.set_topic(topic);
    request.add_partitions(0);
    *request.mutable_position() = position;
    herald::v1::ListOffsetsResponse response;
    grpc::Status status = broker_->ListOffsets(&context, request, &response);
    if (!status.ok()) return absl::UnknownError(status.error_message());
    if (response.partitions_size() != 1) return absl::InternalError("expected one partition");
    return response.partitions(0);
  }

  static constexpr int64_t kBaseTs = 1'650'000'000'000;
};

TEST_F(Consume, SubscribeStartsAtEarliestOffsetAndTimestamp) {
  MakeTopic("positions", 1);
  ProduceTimed("positions", 10, kBaseTs);
  {
    SubscribeClient sub(broker_.get(), StartRequest({{"positions", 0}}, Earliest(), 100));
    auto records = sub.ReadRecords(10, 10'000);
    ASSERT_EQ(records.size(), 10u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(records[i].offset, i);
  }
  {
    SubscribeClient sub(broker_.get(), StartRequest({{"positions", 0}}, AtOffset(5), 100));
    auto records = sub.ReadRecords(5, 10'000, 5);
    ASSERT_EQ(records.size(), 5u);
    EXPECT_EQ(records[0].offset, 5);
    EXPECT_EQ(records[0].record.value(), "r5");
  }
  {
    // 5500 ms after the base: the first record at or after it is r6.
    SubscribeClient sub(broker_.get(),
                        StartRequest({{"positions", 0}}, AtTime(kBaseTs + 5500), 100));
    auto response = sub.Next(10'000);
    ASSERT_TRUE(response.has_value() && response->has_batches());
    std::vector<ReadRecord> records;
    for (const auto& b : response->batches().batches()) AppendRecords(b, 0, &records);
    ASSERT_FALSE(records.empty());
    EXPECT_EQ(records[0].offset, 6) << "first record delivered for timestamp position";
  }
}

TEST_F(Consume, SubscribeAtLatestSeesOnlyNewRecords) {
  MakeTopic("latest", 1);
  ProduceTimed("latest", 5, kBaseTs);
  SubscribeClient sub(broker_.get(), StartRequest({{"latest", 0}}, Latest(), 100));
  // There is no "subscription ready" event, so produce until one new record
  // arrives; whatever arrives must be new (offset >= 5).
  std::vector<ReadRecord> records;
  for (int attempt = 0; attempt < 20 && records.empty(); ++attempt) {
    auto r = ProduceOnce(broker_.get(), "latest", 0, MakeBatch(1, absl::StrCat("new", attempt)));
    ASSERT_TRUE(r.ok()) << r.status();
    records = sub.ReadRecords(1, 250);
  }
  ASSERT_FALSE(records.empty()) << "latest subscription never received a new record";
  EXPECT_GE(records[0].offset, 5);
  EXPECT_EQ(records[0].record.value().rfind("new", 0), 0u) << records[0].record.value();
}

TEST_F(Consume, ListOffsetsEarliestLatestAndByTime) {
  MakeTopic("list-offsets", 1);
  ProduceTimed("list-offsets", 10, kBaseTs);
  auto earliest = ListOffset("list-offsets", Earliest());
  ASSERT_TRUE(earliest.ok()) << earliest.status();
  EXPECT_EQ(earliest->offset(), 0);
  EXPECT_EQ(earliest->high_watermark(), 10);
  EXPECT_EQ(earliest->log_start_offset(), 0);
  auto latest = ListOffset("list-offsets", Latest());
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->offset(), 10);
  auto by_time = ListOffset("list-offsets", AtTime(kBaseTs + 5500));
  ASSERT_TRUE(by_time.ok()) << by_time.status();
  EXPECT_EQ(by_time->offset(), 6);
  auto exact = ListOffset("list-offsets", AtTime(kBaseTs + 3000));
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(exact->offset(), 3);
  auto future = ListOffset("list-offsets", AtTime(kBaseTs + 1'000'000));
  ASSERT_TRUE(future.ok()) << future.status();
  EXPECT_EQ(future->offset(), 10) << "no record after the time: log end offset";
}

TEST_F(Consume, SubscribeNeverExceedsRecordCreditAndResumesOnNewCredit) {
  MakeTopic("credit", 1);
  ProduceTimed("credit", 30, kBaseTs);
  SubscribeClient sub(broker_.get(), StartRequest({{"credit", 0}}, Earliest(), 5));
  // Each batch holds one record, so "at most one batch over" means <= 6.
  auto first = sub.ReadRecords(30, 1000);
  EXPECT_GE(first.size(), 5u);
  EXPECT_LE(first.size(), 6u) << "credit 5 records";
  sub.AddCredit(10);
  auto second = sub.ReadRecords(30, 1000);
  EXPECT_GE(first.size() + second.size(), 15u);
  EXPECT_LE(first.size() + second.size(), 16u) << "credit 15 records";
  sub.AddCredit(100);
  auto rest = sub.ReadRecords(30 - first.size() - second.size(), 10'000);
  EXPECT_EQ(first.size() + second.size() + rest.size(), 30u);
  EXPECT_EQ(sub.records_received(), 30);
  if (!rest.empty()) {
    EXPECT_EQ(rest.back().offset, 29);
  }
}

TEST_F(Consume, ByteCreditOvershootsByAtMostOneBatch) {
  MakeTopic("byte-credit", 1);
  // 20 batches of 10 records of ~100 bytes.
  for (int i = 0; i < 20; ++i) {
    std::vector<TestRecord> records(10);
    for (auto& r : records) r.value = std::string(100, 'a' + i);
    ASSERT_TRUE(ProduceOnce(broker_.get(), "byte-credit", 0, MakeBatch(records)).ok());
  }
  // Byte credit of 1: exactly one batch (10 records) may be sent.
  SubscribeClient sub(broker_.get(), StartRequest({{"byte-credit", 0}}, Earliest(), 1000, 1));
  auto records = sub.ReadRecords(200, 1000);
  EXPECT_GE(records.size(), 1u);
  EXPECT_LE(records.size(), 10u) << "byte credit 1 allowed more than one batch";
}

TEST_F(Consume, ConsumerAtTheEndReceivesANewRecordWithin50ms) {
  MakeTopic("latency", 1);
  SubscribeClient sub(broker_.get(), StartRequest({{"latency", 0}}, Earliest(), 1'000'000));
  ProduceClient producer(broker_.get());
  std::vector<int64_t> latencies_ms;
  for (int i = 0; i < 30; ++i) {
    const int64_t start_ms = SteadyNowMs();
    ASSERT_TRUE(producer.Send("latency", 0, MakeBatch(1, "tick"), herald::v1::ACKS_LEADER));
    auto records = sub.ReadRecords(1, 5000);
    ASSERT_EQ(records.size(), 1u) << "record " << i << " never delivered";
    EXPECT_EQ(records[0].offset, i);
    latencies_ms.push_back(SteadyNowMs() - start_ms);
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const int64_t p50 = latencies_ms[latencies_ms.size() / 2];
  const int64_t max = latencies_ms.back();
  std::cout << "produce->subscribe latency ms: p50=" << p50 << " max=" << max << std::endl;
  RecordProperty("latency_p50_ms", static_cast<int>(p50));
  RecordProperty("latency_max_ms", static_cast<int>(max));
  EXPECT_LT(p50, 50);
  EXPECT_LT(latencies_ms[latencies_ms.size() * 9 / 10], 50) << "p90";
  EXPECT_TRUE(producer.Finish().ok());
}

TEST_F(Consume, OneStreamReadsManyPartitions) {
  MakeTopic("many", 8);
  for (int p = 0; p < 8; ++p) {
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(
          ProduceOnce(broker_.get(), "many", p, MakeBatch(1, absl::StrCat(p, "/", i))).ok());
    }
  }
  std::vector<std::pair<std::string, int32_t>> partitions;
  for (int p = 0; p < 8; ++p) partitions.push_back({"many", p});
  for (bool by_topic : {false, true}) {
    herald::v1::SubscribeRequest start = StartRequest(partitions, Earliest(), 1000);
    if (by_topic) {
      start.mutable_start()->clear_partitions();
      start.mutable_start()->add_topics("many");
    }
    SubscribeClient sub(broker_.get(), start);
    auto records = sub.ReadRecords(24, 10'000);
    ASSERT_EQ(records.size(), 24u) << (by_topic ? "topics" : "partitions");
    std::map<int32_t, std::vector<int64_t>> offsets;
    for (const auto& r : records) {
      offsets[r.partition].push_back(r.offset);
      EXPECT_EQ(r.record.value(), absl::StrCat(r.partition, "/", r.offset, "-0"));
    }
    for (int p = 0; p < 8; ++p) EXPECT_EQ(offsets[p], (std::vector<int64_t>{0, 1, 2})) << p;
  }
}

TEST_F(Consume, FetchStartsExactlyAtTheOffsetEvenInsideABatch) {
  MakeTopic("fetch", 1);
  for (int b = 0; b < 10; ++b) {
    ASSERT_TRUE(ProduceOnce(broker_.get(), "fetch", 0, MakeBatch(10, absl::StrCat("b", b))).ok());
  }
  grpc::ClientContext context;
  herald::v1::FetchRequest request;
  request.set_topic("fetch");
  request.set_offset(55);
  request.set_max_bytes(1);  // Still at least one batch.
  herald::v1::FetchResponse response;
  ASSERT_TRUE(broker_->Fetch(&context, request, &response).ok());
  ASSERT_EQ(response.batches_size(), 1);
  // The stored batch [50, 60) is trimmed to the requested offset.
  EXPECT_EQ(response.batches(0).base_offset(), 55);
  ASSERT_EQ(response.batches(0).records_size(), 5);
  EXPECT_EQ(response.batches(0).records(0).value(), "b5-5");
  EXPECT_EQ(response.batches(0).topic(), "fetch");
  EXPECT_EQ(response.high_watermark(), 100);
  EXPECT_EQ(response.log_start_offset(), 0);

  auto range = FetchRecords(broker_.get(), "fetch", 0, 55, 20);
  ASSERT_TRUE(range.ok()) << range.status();
  for (int i = 0; i < 20; ++i) {
    const int64_t offset = 55 + i;
    EXPECT_EQ((*range)[i].offset, offset);
    EXPECT_EQ((*range)[i].record.value(), absl::StrCat("b", offset / 10, "-", offset % 10));
  }
  grpc::ClientContext at_end_context;
  request.set_offset(100);
  request.set_max_bytes(0);
  herald::v1::FetchResponse at_end;
  ASSERT_TRUE(broker_->Fetch(&at_end_context, request, &at_end).ok());
  EXPECT_EQ(at_end.batches_size(), 0);
  EXPECT_EQ(at_end.high_watermark(), 100);
}

TEST_F(Consume, LongPollFetchWakesOnProduce) {
  MakeTopic("long-poll", 1);
  auto poll = std::async(std::launch::async, [&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    herald::v1::FetchRequest request;
    request.set_topic("long-poll");
    request.set_max_wait_ms(10'000);
    herald::v1::FetchResponse response;
    const int64_t start_ms = SteadyNowMs();
    grpc::Status status = broker_->Fetch(&context, request, &response);
    return std::make_tuple(status, response, SteadyNowMs() - start_ms);
  });
  // Give the fetch time to park before producing; the assertion below only
  // needs it to end well before its 10 s max_wait.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(ProduceOnce(broker_.get(), "long-poll", 0, MakeBatch(1, "wake")).ok());
  auto [status, response, elapsed_ms] = poll.get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.batches_size(), 1) << "long poll returned without the new batch";
  EXPECT_EQ(response.batches(0).records(0).value(), "wake-0");
  EXPECT_LT(elapsed_ms, 3000) << "long poll did not wake on produce";

  // Without a produce it waits about max_wait_ms and returns empty.
  grpc::ClientContext context;
  herald::v1::FetchRequest request;
  request.set_topic("long-poll");
  request.set_offset(1);
  request.set_max_wait_ms(300);
  herald::v1::FetchResponse empty;
  const int64_t start_ms = SteadyNowMs();
  ASSERT_TRUE(broker_->Fetch(&context, request, &empty).ok());
  EXPECT_EQ(empty.batches_size(), 0);
  EXPECT_GE(SteadyNowMs() - start_ms, 250);
}

}  // namespace
}  // namespace herald::testing

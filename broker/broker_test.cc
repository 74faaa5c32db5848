// Broker core over the in-memory LogStore: topics, produce, fetch, offsets,
// retention, limits.
#include "broker/broker.h"

#include <atomic>
#include <future>
#include <thread>

#include "broker/broker_impl.h"
#include "broker/test_util.h"
#include "common/crc32c.h"
#include "common/murmur2.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::broker {
namespace {

using testing::FetchSync;
using ::testing::HasSubstr;
using testing::OneRecord;
using testing::ProduceTo;

SubscribeOptions TopicsOnly(std::vector<std::string> topics) {
  SubscribeOptions o;
  o.topics = std::move(topics);
  return o;
}

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    options_.clock = &clock_;
    auto broker = OpenBroker(options_, storage::NewMemoryLogStore(&clock_));
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
  }

  FakeClock clock_;
  BrokerOptions options_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(BrokerTest, CreateDescribeListDeleteTopic) {
  auto created = broker_->CreateTopic("orders", 3, 1, {});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->partition_count, 3);
  EXPECT_GT(created->topic_id, 0u);
  auto described = broker_->DescribeTopic("orders");
  ASSERT_TRUE(described.ok());
  ASSERT_EQ(described->partitions.size(), 3u);
  EXPECT_EQ(described->partitions[2].partition, 2);
  EXPECT_EQ(described->partitions[0].replicas, std::vector<int32_t>{0});
  ASSERT_EQ(broker_->ListTopics().size(), 1u);
  ASSERT_TRUE(broker_->DeleteTopic("orders").ok());
  EXPECT_TRUE(broker_->ListTopics().empty());
  EXPECT_EQ(broker_->DescribeTopic("orders").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(BrokerTest, RecreatedTopicGetsNewIdAndNoOldData) {
  auto first = broker_->CreateTopic("t", 1, 1, {});
  ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("old")).ok());
  ASSERT_TRUE(broker_->DeleteTopic("t").ok());
  auto second = broker_->CreateTopic("t", 1, 1, {});
  ASSERT_TRUE(second.ok());
  EXPECT_GT(second->topic_id, first->topic_id);
  auto fetched = FetchSync(broker_.get(), {"t", 0, 0, 1 << 20, 0});
  ASSERT_TRUE(fetched.ok());
  EXPECT_TRUE(fetched->batches.empty());
  EXPECT_EQ(fetched->high_watermark, 0);
}

TEST_F(BrokerTest, CreateTopicValidationErrors) {
  auto code = [&](const std::string& name, int32_t p, int32_t rf, TopicConfigUpdate u = {}) {
    return broker_->CreateTopic(name, p, rf, u).status().code();
  };
  EXPECT_EQ(code("bad name", 1, 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("__internal", 1, 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("t", -1, 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("t", 10001, 1), absl::StatusCode::kInvalidArgument);
  auto rf = broker_->CreateTopic("t", 1, 3, {});
  EXPECT_EQ(rf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(rf.status().message(), HasSubstr("1 broker"));
  TopicConfigUpdate zero_retention;
  zero_retention.retention_ms = 0;
  EXPECT_EQ(code("t", 1, 1, zero_retention), absl::StatusCode::kInvalidArgument);
  TopicConfigUpdate bad_bytes;
  bad_bytes.retention_bytes = -2;
  EXPECT_EQ(code("t", 1, 1, bad_bytes), absl::StatusCode::kInvalidArgument);
  TopicConfigUpdate huge;
  huge.max_message_bytes = options_.max_message_bytes_limit + 1;
  EXPECT_EQ(code("t", 1, 1, huge), absl::StatusCode::kInvalidArgument);
  TopicConfigUpdate tiny;
  tiny.max_message_bytes = 0;
  EXPECT_EQ(code("t", 1, 1, tiny), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(broker_->CreateTopic("t", 0, 0, {}).ok());  // 0: defaults
  auto again = broker_->CreateTopic("t", 1, 1, {});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("\"t\" already exists"));
  EXPECT_EQ(broker_->DeleteTopic("nope").code(), absl::StatusCode::kNotFound);
}

TEST_F(BrokerTest, AlterConfigValidatesAndPersists) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1, 1, {}).ok());
  TopicConfigUpdate u;
  u.retention_ms = 5000;
  auto altered = broker_->AlterTopicConfig("t", u);
  ASSERT_TRUE(altered.ok());
  EXPECT_EQ(altered->retention_ms, 5000);
  EXPECT_EQ(broker_->DescribeTopic("t")->config.retention_ms, 5000);
  u.retention_ms = -5;
  EXPECT_EQ(broker_->AlterTopicConfig("t", u).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(broker_->AlterTopicConfig("x", {}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(BrokerTest, CreatePartitionsOnlyGrows) {
  ASSERT_TRUE(broker_->CreateTopic("t", 2, 1, {}).ok());
  EXPECT_EQ(broker_->CreatePartitions("t", 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(broker_->CreatePartitions("t", 1).status().code(), absl::StatusCode::kInvalidArgument);
  auto grown = broker_->CreatePartitions("t", 4);
  ASSERT_TRUE(grown.ok());
  EXPECT_EQ(grown->partition_count, 4);
  EXPECT_TRUE(ProduceTo(broker_.get(), "t", 3, OneRecord("x")).ok());
}

TEST_F(BrokerTest, ClusterIdIsGeneratedOnce) {
  const std::string id = broker_->DescribeCluster().cluster_id;
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(broker_->DescribeCluster().cluster_id, id);
}

TEST_F(BrokerTest, ProduceToExplicitPartitionAndFetchRoundTrip) {
  ASSERT_TRUE(broker_->CreateTopic("t", 2, 1, {}).ok());
  auto r1 = ProduceTo(broker_.get(), "t", 1, testing::EncodeRecords({{"", "a"}, {"", "b"}}));
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->partition, 1);
  EXPECT_EQ(r1->base_offset, 0);
  EXPECT_EQ(r1->record_count, 2);
  EXPECT_EQ(r1->append_time_ms, clock_.NowMs());
  auto r2 = ProduceTo(broker_.get(), "t", 1, OneRecord("c"));
  EXPECT_EQ(r2->base_offset, 2);
  auto fetched = FetchSync(broker_.get(), {"t", 1, 0, 1 << 20, 0});
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  ASSERT_EQ(fetched->batches.size(), 2u);
  EXPECT_EQ(fetched->high_watermark, 3);
  EXPECT_EQ(fetched->batches[0].topic, "t");
  EXPECT_EQ(fetched->batches[0].partition, 1);
  EXPECT_EQ(BatchPayload(fetched->batches[1].stored), OneRecord("c"));
  EXPECT_TRUE(DecodeAndVerifyBatch(fetched->batches[1].stored).ok());
  EXPECT_EQ(fetched->batches[1].header.base_offset, 2);
}

TEST_F(BrokerTest, ProduceErrors) {
  ASSERT_TRUE(broker_->CreateTopic("t", 2, 1, {}).ok());
  EXPECT_EQ(ProduceTo(broker_.get(), "nope", 0, OneRecord("a")).status().code(),
            absl::StatusCode::kNotFound);
  auto bad_partition = ProduceTo(broker_.get(), "t", 2, OneRecord("a"));
  EXPECT_EQ(bad_partition.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(bad_partition.status().message(), HasSubstr("has 2 partitions"));
  EXPECT_EQ(ProduceTo(broker_.get(), "t", 0, "\xff\xff").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ProduceTo(broker_.get(), "t", 0, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  TopicConfigUpdate small;
  small.max_message_bytes = 10;
  ASSERT_TRUE(broker_->AlterTopicConfig("t", small).ok());
  EXPECT_EQ(ProduceTo(broker_.get(), "t", 0, OneRecord(std::string(100, 'x'))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(BrokerTest, KeyedBatchesGoToTheMurmur2Partition) {
  ASSERT_TRUE(broker_->CreateTopic("t", 7, 1, {}).ok());
  for (const std::string key : {"alpha", "beta", "gamma", "delta"}) {
    auto r = ProduceTo(broker_.get(), "t", std::nullopt, OneRecord("v", key));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->partition, PartitionForKey(key, 7)) << key;
  }
}

TEST_F(BrokerTest, MixedKeysAreRejectedWithAdvice) {
  ASSERT_TRUE(broker_->CreateTopic("t", 16, 1, {}).ok());
  std::vector<testing::TestRecord> records;
  for (int i = 0; i < 20; ++i) records.push_back({"key" + std::to_string(i), "v"});
  auto r = ProduceTo(broker_.get(), "t", std::nullopt, testing::EncodeRecords(records));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("split the batch"));
  // With an explicit partition the same batch is fine.
  EXPECT_TRUE(ProduceTo(broker_.get(), "t", 3, testing::EncodeRecords(records)).ok());
}

TEST_F(BrokerTest, KeylessBatchesSpreadOverPartitions) {
  ASSERT_TRUE(broker_->CreateTopic("t", 4, 1, {}).ok());
  std::vector<int> counts(4);
  for (int i = 0; i < 40; ++i) {
    auto r = ProduceTo(broker_.get(), "t", std::nullopt, OneRecord("v"));
    ASSERT_TRUE(r.ok());
    ++counts[r->partition];
  }
  for (int c : counts) EXPECT_EQ(c, 10);
}

TEST_F(BrokerTest, LogAppendTimeTopicStampsAppendTime) {
  TopicConfigUpdate u;
  u.timestamp_type = TimestampType::kLogAppendTime;
  ASSERT_TRUE(broker_->CreateTopic("t", 1, 1, u).ok());
  ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("v", "", 12345)).ok());
  auto fetched = FetchSync(broker_.get(), {"t", 0, 0, 1 << 20, 0});
  ASSERT_EQ(fetched->batches.size(), 1u);
  EXPECT_EQ(fetched->batches[0].header.timestamp_type, TimestampType::kLogAppendTime);
  EXPECT_EQ(fetched->batches[0].header.max_timestamp_ms, clock_.NowMs());
}

TEST_F(BrokerTest, ProducerFieldsAreCarriedIntoTheHeader) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1, 1, {}).ok());
  auto id = broker_->InitProducer("tx");
  id = broker_->InitProducer("tx");  // epoch 1
  ASSERT_TRUE(id.ok()) << id.status();
  ProduceBatch b{"t", 0, OneRecord("v"), Acks::kLeader, id->producer_id, id->epoch, 0};
  ASSERT_TRUE(testing::ProduceSync(broker_.get(), b).ok());
  auto fetched = FetchSync(broker_.get(), {"t", 0, 0, 1 << 20, 0});
  const BatchHeader& h = fetched->batches.at(0).header;
  EXPECT_EQ(h.producer_id, id->producer_id);
  EXPECT_EQ(h.producer_epoch, 1);
  EXPECT_EQ(h.base_sequence, 0);
  // An id the broker never handed out is refused.
  ProduceBatch unknown{"t", 0, OneRecord("v"), Acks::kLeader, 777777, 0, 0};
  EXPECT_EQ(testing::ProduceSync(broker_.get(), unknown).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(BrokerTest, FetchOutOfRangeNamesBothBounds) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1, 1, {}).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("v")).ok());
  auto r = FetchSync(broker_.get(), {"t", 0, 42, 1 << 20, 0});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(r.status().message(), "offset 42 is out of range [0, 3]");
  EXPECT_EQ(FetchSync(broker_.get(), {"t", 5, 0, 1 << 20, 0}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(FetchSync(broker_.get(), {"x", 0, 0, 1 << 20, 0}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(BrokerTest, LongPollFetchWakesOnAppend) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1, 1, {}).ok());
  // Real clock for the timer: the fetch must complete because of the
  // append, long before its 30 s deadline.
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::StatusOr<FetchResult>> result;
  broker_->Fetch({"t", 0, 0, 1 << 20, 30'000}, [&](absl::StatusOr<FetchResult> r) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(r);
    cv.notify_all();
  });
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("wake")).ok());
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return result.has_value(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_TRUE(result->ok()) << result->status();
  ASSERT_EQ((*result)->batches.size(), 1u);
  EXPECT_EQ(BatchPayload((*result)->batches[0].stored), OneRecord("wake"));
}

// Control batches (Raft no-ops written by the replicated log) take offsets
// but are never handed to consumers, by Fetch or by a subscription.
TEST(BrokerControlBatches, FetchAndSubscribeSkipThem) {
  FakeClock clock;
  BrokerOptions options;
  options.clock = &clock;
  auto owned = storage::NewMemoryLogStore(&clock);
  storage::LogStore* store = owned.get();
  auto opened = OpenBroker(options, std::move(owned));
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<Broker> broker = *std::move(opened);
  auto topic = broker->CreateTopic("t", 1, 1, {});
  ASSERT_TRUE(topic.ok()) << topic.status();
  const storage::PartitionKey key{topic->topic_id, 0};
  auto append_control = [&](int64_t offset) {
    storage::AppendRequest req;
    req.partition = key;
    req.header.control = true;
    req.header.record_count = 1;
    req.header.payload_crc = Crc32c("");
    req.expected_base_offset = offset;
    std::promise<absl::Status> done;
    store->Append(std::move(req),
                  [&](absl::StatusOr<storage::AppendResult> r) { done.set_value(r.status()); });
    ASSERT_TRUE(done.get_future().get().ok());
  };
  ASSERT_TRUE(ProduceTo(broker.get(), "t", 0, OneRecord("a")).ok());  // offset 0
  append_control(1);
  ASSERT_TRUE(ProduceTo(broker.get(), "t", 0, OneRecord("b")).ok());  // offset 2
  append_control(3);

  auto all = FetchSync(broker.get(), {"t", 0, 0, 1 << 20, 0});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->batches.size(), 2u);
  EXPECT_EQ(all->batches[0].header.base_offset, 0);
  EXPECT_EQ(all->batches[1].header.base_offset, 2);
  EXPECT_EQ(all->high_watermark, 4);
  auto from_control = FetchSync(broker.get(), {"t", 0, 1, 1 << 20, 0});
  ASSERT_TRUE(from_control.ok());
  ASSERT_EQ(from_control->batches.size(), 1u);
  EXPECT_EQ(from_control->batches[0].header.base_offset, 2);
  auto only_control = FetchSync(broker.get(), {"t", 0, 3, 1 << 20, 0});
  ASSERT_TRUE(only_control.ok());
  EXPECT_TRUE(only_control->batches.empty());

  // A long poll positioned on a trailing control batch waits for data.
  std::promise<absl::StatusOr<FetchResult>> polled;
  broker->Fetch({"t", 0, 3, 1 << 20, 30'000},
                [&](absl::StatusOr<FetchResult> r) { polled.set_value(std::move(r)); });
  ASSERT_TRUE(ProduceTo(broker.get(), "t", 0, OneRecord("c")).ok());  // offset 4
  auto woke = polled.get_future().get();
  ASSERT_TRUE(woke.ok()) << woke.status();
  ASSERT_EQ(woke->batches.size(), 1u);
  EXPECT_EQ(woke->batches[0].header.base_offset, 4);

  SubscribeOptions sub;
  sub.topics = {"t"};
  sub.start = StartPosition::Earliest();
  sub.initial_credit_records = 100;
  sub.initial_credit_bytes = 1 << 20;
  testing::RecordingSink sink;
  auto subscription = broker->Subscribe(sub, &sink);
  ASSERT_TRUE(subscription.ok()) << subscription.status();
  ASSERT_TRUE(sink.WaitForBatches(3));
  const auto got = sink.batches();
  ASSERT_EQ(got.size(), 3u);
  for (const FetchedBatch& b : got) EXPECT_FALSE(b.header.control);
  EXPECT_EQ(got[0].header.base_offset, 0);
  EXPECT_EQ(got[1].header.base_offset, 2);
  EXPECT_EQ(got[2].header.base_offset, 4);
  (*subscription)->Close();
  broker->Shutdown();
}

TEST(BrokerLongPoll, FetchTimesOutEmpty) {
  BrokerOptions options;  // real clock
  auto broker = OpenBroker(options, storage::NewMemoryLogStore());
  ASSERT_TRUE(broker.ok());
  ASSERT_TRUE((*broker)->CreateTopic("t", 1, 1, {}).ok());
  const auto start = std::chrono::steady_clock::now();
  auto r = FetchSync(broker->get(), {"t", 0, 0, 1 << 20, 150});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->batches.empty());
  EXPECT_GE(elapsed, std::chrono::milliseconds(140));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST_F(BrokerTest, ParkedFetchEndsWithNotFoundWhenTopicDeleted) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1, 1, {}).ok());
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::StatusOr<FetchResult>> result;
  broker_->Fetch({"t", 0, 0, 1 << 20, 60'000}, [&](absl::StatusOr<FetchResult> r) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(r);
    cv.notify_all();
  });
  ASSERT_TRUE(broker_->DeleteTopic("t").ok());
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return result.has_value(); }));
  // Either it was parked (NOT_FOUND via the monitor) or it ran after the
  // delete (NOT_FOUND from the lookup).
  EXPECT_EQ(result->status().code(), absl::StatusCode::kNotFound);
}

TEST_F(BrokerTest, ListOffsetsEarliestLatestAndTimestamp) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1, 1, {}).ok());
  const int64_t t0 = clock_.NowMs();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("v", "", t0 + i * 1000)).ok());
  }
  auto earliest = broker_->ListOffsets("t", {}, StartPosition::Earliest());
  ASSERT_TRUE(earliest.ok());
  EXPECT_EQ(earliest->at(0).offset, 0);
  EXPECT_EQ(broker_->ListOffsets("t", {0}, StartPosition::Latest())->at(0).offset, 5);
  EXPECT_EQ(broker_->ListOffsets("t", {0}, StartPosition::AtTime(t0 + 2500))->at(0).offset, 3);
  EXPECT_EQ(broker_->ListOffsets("t", {0}, StartPosition::AtTime(t0 + 99999))->at(0).offset, 5);
  EXPECT_EQ(broker_->ListOffsets("t", {1}, StartPosition::Latest()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(BrokerTest, CommitAndFetchCommittedOffsets) {
  ASSERT_TRUE(broker_->CreateTopic("t", 2, 1, {}).ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("v")).ok());
  auto statuses = broker_->CommitOffsets("g/1", {{"t", 0, 3, "meta"},
                                                 {"t", 1, 0, ""},
                                                 {"t", 0, 5, ""},
                                                 {"t", 9, 0, ""},
                                                 {"x", 0, 0, ""},
                                                 {"t", 0, -1, ""}});
  ASSERT_EQ(statuses.size(), 6u);
  EXPECT_TRUE(statuses[0].ok());
  EXPECT_TRUE(statuses[1].ok());
  EXPECT_EQ(statuses[2].code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(statuses[3].code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(statuses[4].code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(statuses[5].code(), absl::StatusCode::kOutOfRange);
  auto one = broker_->FetchCommittedOffsets("g/1", {{"t", 0}});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->at(0).offset, 3);
  EXPECT_EQ(one->at(0).metadata, "meta");
  auto all = broker_->FetchCommittedOffsets("g/1", {});
  ASSERT_EQ(all->size(), 2u);
  // A group whose name is a prefix of another's sees only its own offsets.
  EXPECT_TRUE(broker_->FetchCommittedOffsets("g", {})->empty());
  EXPECT_EQ(broker_->FetchCommittedOffsets("g/1", {{"t", 1}})->at(0).offset, 0);
  EXPECT_EQ(broker_->FetchCommittedOffsets("other", {{"t", 1}})->at(0).offset, -1);
  EXPECT_EQ(broker_->CommitOffsets("", {{"t", 0, 0, ""}})[0].code(),
            absl::StatusCode::kInvalidArgument);
  // Deleting the topic removes its offsets.
  ASSERT_TRUE(broker_->DeleteTopic("t").ok());
  ASSERT_TRUE(broker_->CreateTopic("t", 2, 1, {}).ok());
  EXPECT_TRUE(broker_->FetchCommittedOffsets("g/1", {})->empty());
}

TEST_F(BrokerTest, RetentionByTimeFollowsTheClock) {
  TopicConfigUpdate u;
  u.retention_ms = 60'000;
  ASSERT_TRUE(broker_->CreateTopic("t", 1, 1, u).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("v")).ok());
  auto* impl = static_cast<BrokerImpl*>(broker_.get());
  EXPECT_EQ(impl->RunRetentionOnce(), 0);
  clock_.AdvanceMs(61'000);
  ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("new")).ok());
  EXPECT_EQ(impl->RunRetentionOnce(), 1);
  auto earliest = broker_->ListOffsets("t", {}, StartPosition::Earliest());
  EXPECT_EQ(earliest->at(0).offset, 3);
  EXPECT_EQ(FetchSync(broker_.get(), {"t", 0, 0, 1 << 20, 0}).status().message(),
            "offset 0 is out of range [3, 4]");
}

TEST(BrokerRetention, RetentionThreadAppliesBytePolicy) {
  FakeClock clock;
  BrokerOptions options;
  options.clock = &clock;
  options.retention_check_interval_ms = 5;
  auto broker = OpenBroker(options, storage::NewMemoryLogStore(&clock));
  ASSERT_TRUE(broker.ok());
  TopicConfigUpdate u;
  u.retention_bytes = 1;
  ASSERT_TRUE((*broker)->CreateTopic("t", 1, 1, u).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ProduceTo(broker->get(), "t", 0, OneRecord("v")).ok());
  ASSERT_TRUE((*broker)->Start().ok());
  // The retention thread has no event to wait on: poll with a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int64_t start = 0;
  while (start != 2 && std::chrono::steady_clock::now() < deadline) {
    start = (*broker)->ListOffsets("t", {}, StartPosition::Earliest())->at(0).offset;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(start, 2);  // everything but the active batch
  (*broker)->Shutdown();
}

TEST_F(BrokerTest, PendingProduceBytesLimitRejectsWithResourceExhausted) {
  options_.max_pending_produce_bytes = 10;
  Open();
  ASSERT_TRUE(broker_->CreateTopic("t", 1, 1, {}).ok());
  auto r = ProduceTo(broker_.get(), "t", 0, OneRecord(std::string(50, 'x')));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("ok")).ok());
  // The counter is released after every completion.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("ok")).ok());
}

TEST_F(BrokerTest, ShutdownRejectsWithUnavailable) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1, 1, {}).ok());
  ASSERT_TRUE(broker_->Start().ok());
  broker_->Shutdown();
  broker_->Shutdown();  // idempotent
  EXPECT_EQ(ProduceTo(broker_.get(), "t", 0, OneRecord("v")).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(FetchSync(broker_.get(), {"t", 0, 0, 1 << 20, 0}).status().code(),
            absl::StatusCode::kUnavailable);
  testing::RecordingSink sink;
  EXPECT_EQ(broker_->Subscribe(TopicsOnly({"t"}), &sink).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(BrokerTest, AcksNoneAndLeaderStillAppend) {
  ASSERT_TRUE(broker_->CreateTopic("t", 1, 1, {}).ok());
  ProduceBatch none{"t", 0, OneRecord("a"), Acks::kNone};
  ProduceBatch leader{"t", 0, OneRecord("b"), Acks::kLeader};
  EXPECT_EQ(testing::ProduceSync(broker_.get(), none)->base_offset, 0);
  EXPECT_EQ(testing::ProduceSync(broker_.get(), leader)->base_offset, 1);
}

TEST_F(BrokerTest, PendingBytesReturnToZeroUnderConcurrentProduce) {
  options_.max_pending_produce_bytes = 64;
  Open();
  ASSERT_TRUE(broker_->CreateTopic("t", 2, 1, {}).ok());
  std::atomic<int> ok{0};
  std::atomic<int> exhausted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto r = ProduceTo(broker_.get(), "t", std::nullopt, OneRecord(std::string(20, 'x')));
        if (r.ok()) {
          ok.fetch_add(1);
        } else if (absl::IsResourceExhausted(r.status())) {
          exhausted.fetch_add(1);
        } else {
          ADD_FAILURE() << r.status();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load() + exhausted.load(), 800);
  EXPECT_GT(ok.load(), 0);
  for (const auto& [name, value] : broker_->StorageStats()) {
    if (name == "broker_pending_produce_bytes") {
      EXPECT_EQ(value, 0);
    }
  }
}

TEST_F(BrokerTest, GaugesAndStats) {
  ASSERT_TRUE(broker_->CreateTopic("t", 2, 1, {}).ok());
  ASSERT_TRUE(ProduceTo(broker_.get(), "t", 1, OneRecord("v")).ok());
  auto gauges = broker_->PartitionGauges();
  ASSERT_EQ(gauges.size(), 2u);
  EXPECT_EQ(gauges[1].high_watermark, 1);
  EXPECT_GT(gauges[1].size_bytes, 0);
  bool found = false;
  for (const auto& [name, value] : broker_->StorageStats()) {
    if (name == "broker_pending_produce_bytes") found = true;
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace herald::broker

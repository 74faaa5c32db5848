// The broker over the real RocksDB store: everything comes back on reopen.
#include <atomic>
#include <filesystem>
#include <thread>

#include "broker/broker.h"
#include "broker/test_util.h"
#include "gtest/gtest.h"

namespace herald::broker {
namespace {

using testing::FetchSync;
using testing::OneRecord;
using testing::ProduceTo;

class RestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("herald_broker_restart_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override {
    broker_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Reopen() {
    broker_.reset();  // shuts down and closes the store
    storage::RocksLogStoreOptions so;
    so.path = dir_.string();
    so.clock = &clock_;
    auto store = storage::OpenRocksLogStore(so);
    ASSERT_TRUE(store.ok()) << store.status();
    BrokerOptions options;
    options.clock = &clock_;
    auto broker = OpenBroker(options, *std::move(store));
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
  }

  FakeClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(RestartTest, TopicsOffsetsClusterIdAndHighWatermarksSurviveReopen) {
  Reopen();
  TopicConfigUpdate u;
  u.retention_ms = 123'000;
  auto created = broker_->CreateTopic("orders", 2, 1, u);
  ASSERT_TRUE(created.ok()) << created.status();
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(ProduceTo(broker_.get(), "orders", 1, OneRecord("v")).ok());
  ASSERT_TRUE(broker_->CommitOffsets("g", {{"orders", 1, 2, "m"}})[0].ok());
  const std::string cluster_id = broker_->DescribeCluster().cluster_id;

  Reopen();
  EXPECT_EQ(broker_->DescribeCluster().cluster_id, cluster_id);
  auto topic = broker_->DescribeTopic("orders");
  ASSERT_TRUE(topic.ok()) << topic.status();
  EXPECT_EQ(topic->topic_id, created->topic_id);
  EXPECT_EQ(topic->partition_count, 2);
  EXPECT_EQ(topic->config.retention_ms, 123'000);
  EXPECT_EQ(topic->partitions[1].high_watermark, 3);
  auto committed = broker_->FetchCommittedOffsets("g", {});
  ASSERT_TRUE(committed.ok());
  ASSERT_EQ(committed->size(), 1u);
  EXPECT_EQ(committed->at(0).offset, 2);
  EXPECT_EQ(committed->at(0).metadata, "m");
  // Appends continue after the recovered end; old data is readable.
  auto r = ProduceTo(broker_.get(), "orders", 1, OneRecord("after"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->base_offset, 3);
  auto fetched = FetchSync(broker_.get(), {"orders", 1, 0, 1 << 20, 0});
  ASSERT_TRUE(fetched.ok());
  EXPECT_EQ(fetched->batches.size(), 4u);
}

TEST_F(RestartTest, TopicIdsAreNeverReusedAcrossReopen) {
  Reopen();
  auto first = broker_->CreateTopic("a", 1, 1, {});
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(broker_->DeleteTopic("a").ok());
  Reopen();
  EXPECT_TRUE(broker_->ListTopics().empty());
  auto second = broker_->CreateTopic("a", 1, 1, {});
  ASSERT_TRUE(second.ok());
  EXPECT_GT(second->topic_id, first->topic_id);
}

TEST_F(RestartTest, SubscriptionOverRocksDbIsWokenByAppend) {
  Reopen();
  ASSERT_TRUE(broker_->CreateTopic("t", 1, 1, {}).ok());
  testing::RecordingSink sink;
  SubscribeOptions o;
  o.topics = {"t"};
  o.initial_credit_records = 100;
  o.initial_credit_bytes = 1 << 20;
  auto sub = broker_->Subscribe(o, &sink);
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("x")).ok());
  ASSERT_TRUE(sink.WaitForBatches(1));
  EXPECT_EQ(BatchPayload(sink.batches()[0].stored), OneRecord("x"));
}

TEST_F(RestartTest, OpenDeletesPartitionsThatBelongToNoTopic) {
  Reopen();
  ASSERT_TRUE(broker_->CreateTopic("kept", 1, 1, {}).ok());
  broker_.reset();
  storage::RocksLogStoreOptions so;
  so.path = dir_.string();
  {
    // An interrupted delete leaves data without a topic.
    auto store = storage::OpenRocksLogStore(so);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->CreatePartition({999, 0}).ok());
    (*store)->Close();
  }
  Reopen();
  broker_.reset();
  auto store = storage::OpenRocksLogStore(so);
  ASSERT_TRUE(store.ok());
  const auto partitions = (*store)->ListPartitions();
  ASSERT_EQ(partitions.size(), 1u);
  EXPECT_NE(partitions[0].topic_id, 999u);
  (*store)->Close();
}

TEST_F(RestartTest, ShutdownCompletesEveryProduceExactlyOnce) {
  Reopen();
  ASSERT_TRUE(broker_->CreateTopic("t", 2, 1, {}).ok());
  constexpr int kBatches = 2000;
  std::atomic<int> callbacks{0};
  std::atomic<int> unexpected{0};
  std::thread producer([&] {
    for (int i = 0; i < kBatches; ++i) {
      broker_->Produce({"t", std::nullopt, OneRecord("v"), Acks::kAll},
                       [&](absl::StatusOr<ProduceResult> r) {
                         if (!r.ok() && !absl::IsUnavailable(r.status())) unexpected.fetch_add(1);
                         callbacks.fetch_add(1);
                       });
    }
  });
  while (callbacks.load() < 100) std::this_thread::yield();
  broker_->Shutdown();
  producer.join();
  EXPECT_EQ(callbacks.load(), kBatches);
  EXPECT_EQ(unexpected.load(), 0);
}

TEST_F(RestartTest, GroupsOffsetsAndProducerStateSurviveReopen) {
  Reopen();
  ASSERT_TRUE(broker_->CreateTopic("t", 2, 1, {}).ok());
  auto id = broker_->InitProducer("");
  ASSERT_TRUE(id.ok()) << id.status();
  ProduceBatch b{"t", 0, OneRecord("a"), Acks::kAll, id->producer_id, id->epoch, 0};
  auto first = testing::ProduceSync(broker_.get(), b);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(broker_->CommitOffsets("g", {{"t", 0, 1, "m"}})[0].ok());
  testing::RecordingSink sink;
  SubscribeOptions o;
  o.group = "g";
  o.topics = {"t"};
  o.instance_id = "static-1";
  o.session_timeout_ms = 60'000;
  auto sub = broker_->Subscribe(o, &sink);
  ASSERT_TRUE(sub.ok()) << sub.status();
  sub->reset();  // the stream closes: a static member stays, reserved
  Reopen();
  // The retried batch is recognised from the log tail after the restart.
  auto retry = testing::ProduceSync(broker_.get(), b);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->base_offset, first->base_offset);
  b.base_sequence = 1;
  EXPECT_FALSE(testing::ProduceSync(broker_.get(), b)->duplicate);
  EXPECT_EQ(broker_->FetchCommittedOffsets("g", {{"t", 0}})->at(0).offset, 1);
  auto d = broker_->DescribeGroup("g");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->members.size(), 1u);
  EXPECT_EQ(d->members[0].instance_id, "static-1");
  EXPECT_FALSE(d->members[0].connected);
  // A fresh id never repeats one handed out before the restart.
  EXPECT_NE(broker_->InitProducer("")->producer_id, id->producer_id);
}

}  // namespace
}  // namespace herald::broker

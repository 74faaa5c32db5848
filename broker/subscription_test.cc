// Subscriptions over the in-memory LogStore: credit, wake-up on append,
// start positions, Seek, Close racing delivery, topic deletion, scale.
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "broker/broker.h"
#include "broker/broker_impl.h"
#include "broker/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::broker {
namespace {

using testing::OneRecord;
using testing::ProduceTo;
using testing::RecordingSink;

class SubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.clock = &clock_;
    options_.read_threads = 2;
    auto broker = OpenBroker(options_, storage::NewMemoryLogStore(&clock_));
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    ASSERT_TRUE(broker_->CreateTopic("t", 3, 1, {}).ok());
  }

  void ProduceN(int32_t partition, int n, const std::string& prefix = "v") {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(
          ProduceTo(broker_.get(), "t", partition, OneRecord(prefix + std::to_string(i))).ok());
    }
  }

  SubscribeOptions Partition(int32_t p, StartPosition start, int64_t records = 1000,
                             int64_t bytes = 1 << 20) {
    SubscribeOptions o;
    o.partitions.push_back({"t", p, start});
    o.initial_credit_records = records;
    o.initial_credit_bytes = bytes;
    return o;
  }

  FakeClock clock_;
  BrokerOptions options_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(SubscriptionTest, DeliversExactlyTheRecordCreditAndResumesOnAddCredit) {
  ProduceN(0, 10);
  RecordingSink sink;
  auto sub = broker_->Subscribe(Partition(0, StartPosition::Earliest(), 3), &sink);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(sink.WaitForBatches(3));
  (*sub)->DeliveryDone();
  // No credit left: nothing more arrives even though the delivery is done.
  EXPECT_FALSE(sink.WaitUntil([&] { return false; }, std::chrono::milliseconds(100)));
  EXPECT_EQ(sink.batch_count(), 3u);
  (*sub)->AddCredit(4, 1 << 20);
  ASSERT_TRUE(sink.WaitForBatches(7));
  (*sub)->DeliveryDone();
  EXPECT_FALSE(sink.WaitUntil([&] { return false; }, std::chrono::milliseconds(50)));
  EXPECT_EQ(sink.batch_count(), 7u);
  auto batches = sink.batches();
  for (size_t i = 0; i < batches.size(); ++i) {
    EXPECT_EQ(batches[i].header.base_offset, static_cast<int64_t>(i));
  }
}

TEST_F(SubscriptionTest, ByteCreditOvershootsByAtMostOneBatch) {
  ProduceN(0, 10);
  RecordingSink sink;
  auto sub = broker_->Subscribe(Partition(0, StartPosition::Earliest(), 1000, 1), &sink);
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sink.WaitForBatches(1));
  (*sub)->DeliveryDone();
  EXPECT_FALSE(sink.WaitUntil([&] { return false; }, std::chrono::milliseconds(100)));
  EXPECT_EQ(sink.batch_count(), 1u);
}

TEST_F(SubscriptionTest, OneDeliveryOutstandingUntilDeliveryDone) {
  ProduceN(0, 5);
  SubscribeOptions o = Partition(0, StartPosition::Earliest());
  o.max_delivery_bytes = 1;  // one batch per delivery
  RecordingSink sink;
  auto sub = broker_->Subscribe(o, &sink);
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(sink.WaitForBatches(1));
  EXPECT_FALSE(sink.WaitUntil([&] { return false; }, std::chrono::milliseconds(100)));
  EXPECT_EQ(sink.deliveries(), 1);
  for (int i = 2; i <= 5; ++i) {
    (*sub)->DeliveryDone();
    ASSERT_TRUE(sink.WaitForBatches(i));
  }
  EXPECT_EQ(sink.deliveries(), 5);
}

TEST_F(SubscriptionTest, SubscriberAtTheEndIsWokenByAppend) {
  RecordingSink sink;
  auto sub = broker_->Subscribe(Partition(1, StartPosition::Latest()), &sink);
  ASSERT_TRUE(sub.ok());
  const auto start = std::chrono::steady_clock::now();
  ProduceN(1, 1, "new");
  ASSERT_TRUE(sink.WaitForBatches(1));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(BatchPayload(sink.batches()[0].stored), OneRecord("new0"));
  EXPECT_EQ(sink.batches()[0].partition, 1);
}

TEST_F(SubscriptionTest, WholeTopicSubscriptionIsFairAcrossPartitions) {
  ProduceN(0, 50);
  ProduceN(1, 1);
  ProduceN(2, 1);
  SubscribeOptions o;
  o.topics = {"t"};
  o.start = StartPosition::Earliest();
  o.initial_credit_records = 1000;
  o.initial_credit_bytes = 1 << 20;
  o.max_delivery_bytes = 200;  // a few batches per delivery
  RecordingSink sink;
  auto sub = broker_->Subscribe(o, &sink);
  ASSERT_TRUE(sub.ok());
  // Partition 0 alone could fill many deliveries; round-robin must still
  // serve partitions 1 and 2 within the first two.
  ASSERT_TRUE(sink.WaitUntil([&] { return sink.deliveries_locked() >= 1; }));
  (*sub)->DeliveryDone();
  ASSERT_TRUE(sink.WaitUntil([&] { return sink.deliveries_locked() >= 2; }));
  std::set<int32_t> seen;
  for (const auto& b : sink.batches()) seen.insert(b.partition);
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1, 2}));
}

TEST_F(SubscriptionTest, StartPositions) {
  const int64_t t0 = clock_.NowMs();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("v", "", t0 + i * 1000)).ok());
  }
  auto first_offset = [&](StartPosition pos) -> int64_t {
    RecordingSink sink;
    auto sub = broker_->Subscribe(Partition(0, pos), &sink);
    EXPECT_TRUE(sub.ok()) << sub.status();
    if (!sub.ok() || !sink.WaitForBatches(1)) return -1;
    return sink.batches()[0].header.base_offset;
  };
  EXPECT_EQ(first_offset(StartPosition::Earliest()), 0);
  EXPECT_EQ(first_offset(StartPosition::AtOffset(2)), 2);
  EXPECT_EQ(first_offset(StartPosition::AtTime(t0 + 3000)), 3);
  RecordingSink sink;
  EXPECT_EQ(broker_->Subscribe(Partition(0, StartPosition::AtOffset(9)), &sink).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(
      broker_->Subscribe(Partition(0, {StartPosition::Kind::kCommitted, 0}), &sink).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(broker_->Subscribe(Partition(7, StartPosition::Latest()), &sink).status().code(),
            absl::StatusCode::kNotFound);
  SubscribeOptions unknown;
  unknown.topics = {"nope"};
  EXPECT_EQ(broker_->Subscribe(unknown, &sink).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SubscriptionTest, SeekMovesThePosition) {
  ProduceN(0, 5);
  RecordingSink sink;
  auto sub = broker_->Subscribe(Partition(0, StartPosition::Latest()), &sink);
  ASSERT_TRUE(sub.ok());
  auto seeked = (*sub)->Seek("t", 0, StartPosition::AtOffset(3));
  ASSERT_TRUE(seeked.ok());
  EXPECT_EQ(*seeked, 3);
  ASSERT_TRUE(sink.WaitForBatches(2));
  EXPECT_EQ(sink.batches()[0].header.base_offset, 3);
  EXPECT_EQ((*sub)->Seek("t", 1, StartPosition::Earliest()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ((*sub)->Seek("t", 0, StartPosition::AtOffset(99)).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST_F(SubscriptionTest, DeletingTheTopicEndsSubscriptionsWithNotFound) {
  RecordingSink sink;
  auto sub = broker_->Subscribe(Partition(0, StartPosition::Latest()), &sink);
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(broker_->DeleteTopic("t").ok());
  ASSERT_TRUE(sink.WaitForError());
  EXPECT_EQ(sink.errors()[0].code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(sink.WaitUntil([&] { return false; }, std::chrono::milliseconds(50)));
  EXPECT_EQ(sink.errors().size(), 1u);
}

TEST_F(SubscriptionTest, ShutdownEndsSubscriptionsWithUnavailable) {
  RecordingSink sink;
  auto sub = broker_->Subscribe(Partition(0, StartPosition::Latest()), &sink);
  ASSERT_TRUE(sub.ok());
  broker_->Shutdown();
  ASSERT_TRUE(sink.WaitForError());
  EXPECT_EQ(sink.errors()[0].code(), absl::StatusCode::kUnavailable);
  (*sub)->Close();
}

// A sink that is slow and counts calls after Close returned.
class SlowSink final : public SubscriptionSink {
 public:
  void OnBatches(std::vector<FetchedBatch>) override {
    if (closed.load()) violations.fetch_add(1);
    calls.fetch_add(1);
    std::this_thread::yield();
    if (closed.load()) violations.fetch_add(1);
    if (auto* s = sub.load()) s->DeliveryDone();
  }
  void OnError(absl::Status) override {
    if (closed.load()) violations.fetch_add(1);
  }
  std::atomic<Subscription*> sub{nullptr};
  std::atomic<bool> closed{false};
  std::atomic<int> calls{0};
  std::atomic<int> violations{0};
};

TEST_F(SubscriptionTest, CloseDuringActiveDeliveryNeverCallsTheSinkAfterwards) {
  ProduceN(0, 20);
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    while (!stop.load()) (void)ProduceTo(broker_.get(), "t", 0, OneRecord("x"));
  });
  int total_calls = 0;
  // At least 300 rounds, and more (bounded) until some delivery really raced
  // the Close: on a loaded machine the first rounds may all close first.
  for (int i = 0; i < 5000 && (i < 300 || total_calls == 0); ++i) {
    SlowSink sink;
    SubscribeOptions o = Partition(0, StartPosition::Earliest(), INT64_MAX / 2, INT64_MAX / 2);
    o.max_delivery_bytes = 100;
    auto sub = broker_->Subscribe(o, &sink);
    ASSERT_TRUE(sub.ok());
    sink.sub.store(sub->get());
    if (i % 3 == 0) std::this_thread::yield();
    (*sub)->Close();
    sink.closed.store(true);
    total_calls += sink.calls.load();
    sub->reset();  // the handle goes before the sink does
    EXPECT_EQ(sink.violations.load(), 0);
  }
  stop.store(true);
  producer.join();
  EXPECT_GT(total_calls, 0);  // deliveries really were racing the Close
}

TEST_F(SubscriptionTest, WholeTopicSubscriptionPicksUpNewPartitions) {
  SubscribeOptions o;
  o.topics = {"t"};
  o.initial_credit_records = 100;
  o.initial_credit_bytes = 1 << 20;
  RecordingSink sink;
  auto sub = broker_->Subscribe(o, &sink);
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(broker_->CreatePartitions("t", 5).ok());
  ProduceN(4, 1, "in-new-partition");
  ASSERT_TRUE(sink.WaitForBatches(1));
  EXPECT_EQ(sink.batches()[0].partition, 4);
}

TEST_F(SubscriptionTest, SubscriberBehindRetentionContinuesFromLogStart) {
  TopicConfigUpdate u;
  u.retention_bytes = 1;
  ASSERT_TRUE(broker_->AlterTopicConfig("t", u).ok());
  ProduceN(0, 1);
  RecordingSink sink;
  auto sub = broker_->Subscribe(Partition(0, StartPosition::Earliest(), 0, 0), &sink);
  ASSERT_TRUE(sub.ok());
  ProduceN(0, 3);
  // Retention drops offsets 0..2 while the subscriber (no credit) sits at 0.
  EXPECT_EQ(static_cast<BrokerImpl*>(broker_.get())->RunRetentionOnce(), 1);
  (*sub)->AddCredit(10, 1 << 20);
  ASSERT_TRUE(sink.WaitForBatches(1));
  EXPECT_EQ(sink.batches()[0].header.base_offset, 3);
}

TEST_F(SubscriptionTest, ConcurrentProducersAreDeliveredInOrderExactlyOnce) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 200;
  SubscribeOptions o;
  o.topics = {"t"};
  o.start = StartPosition::Earliest();
  o.initial_credit_records = INT64_MAX / 2;
  o.initial_credit_bytes = INT64_MAX / 2;
  o.max_delivery_bytes = 512;
  class DoneSink final : public SubscriptionSink {
   public:
    void OnBatches(std::vector<FetchedBatch> batches) override {
      {
        std::lock_guard<std::mutex> lock(mu);
        for (auto& b : batches) offsets[b.partition].push_back(b.header.base_offset);
        total += batches.size();
        cv.notify_all();
      }
      sub.load()->DeliveryDone();
    }
    void OnError(absl::Status) override {}
    std::mutex mu;
    std::condition_variable cv;
    std::map<int32_t, std::vector<int64_t>> offsets;
    size_t total = 0;
    std::atomic<Subscription*> sub{nullptr};
  } sink;
  // Subscribe with zero credit first so the sink pointer is set before any
  // delivery, then grant it.
  o.initial_credit_records = 0;
  auto sub = broker_->Subscribe(o, &sink);
  ASSERT_TRUE(sub.ok());
  sink.sub.store(sub->get());
  (*sub)->AddCredit(INT64_MAX / 2, INT64_MAX / 2);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        EXPECT_TRUE(ProduceTo(broker_.get(), "t", std::nullopt, OneRecord("x")).ok());
      }
      (void)p;
    });
  }
  for (auto& t : producers) t.join();
  std::unique_lock<std::mutex> lock(sink.mu);
  ASSERT_TRUE(sink.cv.wait_for(lock, std::chrono::seconds(20),
                               [&] { return sink.total >= kProducers * kPerProducer; }));
  EXPECT_EQ(sink.total, static_cast<size_t>(kProducers * kPerProducer));
  for (const auto& [partition, offsets] : sink.offsets) {
    for (size_t i = 0; i < offsets.size(); ++i) {
      ASSERT_EQ(offsets[i], static_cast<int64_t>(i)) << "partition " << partition;
    }
  }
  lock.unlock();
  (*sub)->Close();
}

TEST_F(SubscriptionTest, SeekWhileDeliveringIsSafe) {
  ProduceN(0, 50);
  RecordingSink sink;
  auto sub = broker_->Subscribe(
      Partition(0, StartPosition::Earliest(), INT64_MAX / 2, INT64_MAX / 2), &sink);
  ASSERT_TRUE(sub.ok());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE((*sub)->Seek("t", 0, StartPosition::AtOffset(i % 50)).ok());
    (*sub)->DeliveryDone();
  }
  ASSERT_TRUE((*sub)->Seek("t", 0, StartPosition::AtOffset(49)).ok());
  (*sub)->DeliveryDone();
  ASSERT_TRUE(sink.WaitForBatches(1));
  (*sub)->Close();
}

TEST_F(SubscriptionTest, CloseFromInsideTheSinkDoesNotDeadlock) {
  // Against the contract, but it must not hang the pool thread forever.
  class ClosingSink final : public SubscriptionSink {
   public:
    void OnBatches(std::vector<FetchedBatch>) override {
      calls.fetch_add(1);
      sub.load()->Close();
      done.store(true);
    }
    void OnError(absl::Status) override {}
    std::atomic<Subscription*> sub{nullptr};
    std::atomic<int> calls{0};
    std::atomic<bool> done{false};
  } sink;
  ProduceN(0, 3);
  SubscribeOptions o = Partition(0, StartPosition::Earliest(), 0, 0);
  auto sub = broker_->Subscribe(o, &sink);
  ASSERT_TRUE(sub.ok());
  sink.sub.store(sub->get());
  (*sub)->AddCredit(100, 1 << 20);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!sink.done.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_TRUE(sink.done.load());
  (*sub)->DeliveryDone();
  (*sub)->AddCredit(100, 1 << 20);
  ProduceN(0, 1);
  EXPECT_EQ(sink.calls.load(), 1);
}

TEST_F(SubscriptionTest, EveryDeliveryStaysWithinMaxDeliveryBytes) {
  class SizeSink final : public SubscriptionSink {
   public:
    void OnBatches(std::vector<FetchedBatch> batches) override {
      int64_t bytes = 0;
      for (const auto& b : batches) bytes += static_cast<int64_t>(b.stored.size());
      {
        std::lock_guard<std::mutex> lock(mu);
        max_bytes = std::max(max_bytes, bytes);
        total += batches.size();
        cv.notify_all();
      }
      sub.load()->DeliveryDone();
    }
    void OnError(absl::Status) override {}
    std::mutex mu;
    std::condition_variable cv;
    int64_t max_bytes = 0;
    size_t total = 0;
    std::atomic<Subscription*> sub{nullptr};
  } sink;
  for (int p = 0; p < 3; ++p) ProduceN(p, 10, std::string(40, 'x'));
  SubscribeOptions o;
  o.topics = {"t"};
  o.start = StartPosition::Earliest();
  o.max_delivery_bytes = 350;  // about three stored batches
  auto sub = broker_->Subscribe(o, &sink);
  ASSERT_TRUE(sub.ok());
  sink.sub.store(sub->get());
  (*sub)->AddCredit(1000, 1 << 20);
  std::unique_lock<std::mutex> lock(sink.mu);
  ASSERT_TRUE(sink.cv.wait_for(lock, std::chrono::seconds(10), [&] { return sink.total >= 30; }));
  EXPECT_LE(sink.max_bytes, 350);
  EXPECT_GT(sink.max_bytes, 0);
  lock.unlock();
  (*sub)->Close();
}

TEST_F(SubscriptionTest, TenThousandIdleSubscriptionsOpenAndCloseQuickly) {
  constexpr int kSubs = 10'000;
  RecordingSink sink;
  std::vector<std::unique_ptr<Subscription>> subs;
  subs.reserve(kSubs);
  const size_t heap_before = mallinfo2().uordblks;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kSubs; ++i) {
    auto sub = broker_->Subscribe(Partition(i % 3, StartPosition::Latest()), &sink);
    ASSERT_TRUE(sub.ok());
    subs.push_back(*std::move(sub));
  }
  const auto opened = std::chrono::steady_clock::now();
  const double bytes_per_sub =
      static_cast<double>(mallinfo2().uordblks - heap_before) / static_cast<double>(kSubs);
  std::printf("idle subscription: %.0f heap bytes each\n", bytes_per_sub);
  EXPECT_LT(bytes_per_sub, 4096);
  // One append wakes every subscriber of partition 0 (a third of them).
  ProduceN(0, 1);
  ASSERT_TRUE(sink.WaitForBatches((kSubs + 2) / 3));
  subs.clear();
  const auto closed = std::chrono::steady_clock::now();
  EXPECT_LT(opened - start, std::chrono::seconds(10));
  EXPECT_LT(closed - opened, std::chrono::seconds(10));
  for (const auto& [name, value] : broker_->StorageStats()) {
    if (name == "broker_subscriptions" || name == "broker_partition_waiters") {
      EXPECT_EQ(value, 0) << name;
    }
  }
  std::printf("10k subscriptions: open %lld ms, wake+close %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(opened - start).count()),
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(closed - opened).count()));
}

}  // namespace
}  // namespace herald::broker

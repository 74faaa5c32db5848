// Rough throughput of the core (not a benchmark suite): produce N batches
// and consume them through one subscription, over the in-memory store and
// over RocksDB. Prints the rates; asserts only completeness.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "broker/broker.h"
#include "broker/test_util.h"
#include "gtest/gtest.h"

namespace herald::broker {
namespace {

class CountingSink final : public SubscriptionSink {
 public:
  void OnBatches(std::vector<FetchedBatch> batches) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& b : batches) records_ += b.header.record_count;
      cv_.notify_all();
    }
    sub_.load()->DeliveryDone();
  }
  void OnError(absl::Status) override {}
  bool WaitFor(int64_t records) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return records_ >= records; });
  }
  std::atomic<Subscription*> sub_{nullptr};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t records_ = 0;
};

void Measure(const char* label, Broker* broker, Acks acks, int batches, int records_per_batch) {
  ASSERT_TRUE(broker->CreateTopic("bench", 4, 1, {}).ok());
  std::vector<testing::TestRecord> records(records_per_batch, {"", std::string(100, 'x'), 0});
  const std::string payload = testing::EncodeRecords(records);
  CountingSink sink;
  SubscribeOptions o;
  o.topics = {"bench"};
  auto sub = broker->Subscribe(o, &sink);  // no credit yet: set the pointer first
  ASSERT_TRUE(sub.ok());
  sink.sub_.store(sub->get());
  (*sub)->AddCredit(INT64_MAX / 2, INT64_MAX / 2);

  const auto start = std::chrono::steady_clock::now();
  std::atomic<int> outstanding{0};
  std::atomic<int> failures{0};
  for (int i = 0; i < batches; ++i) {
    while (outstanding.load() > 1000) std::this_thread::yield();  // bounded in flight
    outstanding.fetch_add(1);
    broker->Produce({"bench", std::nullopt, payload, acks}, [&](absl::StatusOr<ProduceResult> r) {
      if (!r.ok()) failures.fetch_add(1);
      outstanding.fetch_sub(1);
    });
  }
  while (outstanding.load() > 0) std::this_thread::yield();
  const auto produced = std::chrono::steady_clock::now();
  ASSERT_TRUE(sink.WaitFor(static_cast<int64_t>(batches) * records_per_batch));
  const auto consumed = std::chrono::steady_clock::now();
  EXPECT_EQ(failures.load(), 0);
  const double produce_s = std::chrono::duration<double>(produced - start).count();
  const double total_s = std::chrono::duration<double>(consumed - start).count();
  std::printf(
      "%s: %d batches x %d records (100 B values): produce %.0f batches/s, "
      "produce+consume %.0f records/s\n",
      label, batches, records_per_batch, batches / produce_s,
      batches * records_per_batch / total_s);
  (*sub)->Close();
}

TEST(Throughput, MemoryStore) {
  auto broker = OpenBroker({}, storage::NewMemoryLogStore());
  ASSERT_TRUE(broker.ok());
  Measure("memory", broker->get(), Acks::kAll, 20'000, 10);
}

TEST(Throughput, RocksDbStoreAcksLeader) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("herald_broker_throughput_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    storage::RocksLogStoreOptions so;
    so.path = dir.string();
    auto store = storage::OpenRocksLogStore(so);
    ASSERT_TRUE(store.ok()) << store.status();
    auto broker = OpenBroker({}, *std::move(store));
    ASSERT_TRUE(broker.ok());
    Measure("rocksdb acks=leader", broker->get(), Acks::kLeader, 20'000, 10);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace herald::broker

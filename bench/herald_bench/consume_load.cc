#include "bench/herald_bench/consume_load.h"

#include <chrono>

#include "bench/herald_bench/measurement.h"
#include "bench/herald_bench/produce_load.h"

namespace herald::bench {

absl::StatusOr<std::unique_ptr<CountingSubscriber>> CountingSubscriber::Start(
    SubscriberOptions options) {
  client::ConsumerOptions consumer_options;
  consumer_options.connection.brokers = options.brokers;
  // Large buffers: the subscriber should measure the broker, not its own credit window.
  consumer_options.max_buffered_records = 200'000;
  consumer_options.max_buffered_bytes = 64 << 20;
  auto consumer = client::Consumer::Create(consumer_options);
  if (!consumer.ok()) return consumer.status();
  if (absl::Status s =
          (*consumer)->SubscribeTopics({options.topic}, client::StartPosition::Earliest());
      !s.ok()) {
    return s;
  }
  std::unique_ptr<CountingSubscriber> sub(
      new CountingSubscriber(std::move(options), std::move(*consumer)));
  sub->reader_ = std::thread(&CountingSubscriber::ReadLoop, sub.get());
  return sub;
}

CountingSubscriber::CountingSubscriber(SubscriberOptions options,
                                       std::unique_ptr<client::Consumer> consumer)
    : options_(std::move(options)), consumer_(std::move(consumer)) {}

CountingSubscriber::~CountingSubscriber() { Stop().IgnoreError(); }

void CountingSubscriber::ReadLoop() {
  constexpr int64_t kPollTimeoutMs = 50;
  constexpr size_t kPollMaxRecords = 10'000;
  while (!stop_.load()) {
    auto records = consumer_->Poll(kPollTimeoutMs, kPollMaxRecords);
    if (!records.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = records.status();
      done_ = true;
      progressed_.notify_all();
      return;
    }
    if (records->empty()) continue;
    const int64_t now_ns = NowNs();
    int64_t bytes = 0;
    for (const client::ConsumedRecord& r : *records) {
      bytes += static_cast<int64_t>(r.key.size() + r.value.size());
      if (options_.e2e_latency == nullptr) continue;
      const int64_t stamp_ns = ReadStamp(r.value);
      if (stamp_ns >= options_.measure_from_ns) options_.e2e_latency->Record(now_ns - stamp_ns);
    }
    bytes_.fetch_add(bytes);
    if (now_ns >= options_.window_from_ns && now_ns <= options_.window_until_ns) {
      window_bytes_.fetch_add(bytes);
    }
    std::lock_guard<std::mutex> lock(mu_);
    records_.fetch_add(static_cast<int64_t>(records->size()));
    progressed_.notify_all();
  }
}

bool CountingSubscriber::WaitForRecords(int64_t records, int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return progressed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return done_ || records_.load() >= records;
  }) && records_.load() >= records;
}

absl::Status CountingSubscriber::Stop() {
  stop_.store(true);
  if (reader_.joinable()) reader_.join();
  consumer_->Close();
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

}  // namespace herald::bench

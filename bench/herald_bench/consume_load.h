#pragma once
// CountingSubscriber: one independent Subscribe stream (herald_client
// Consumer, no group) reading every partition of a topic from the earliest
// offset, counting records and payload bytes, and optionally measuring
// end-to-end latency from the intended send time stamped in each value
// (see produce_load.h). One reader thread per subscriber.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/herald_bench/histogram.h"
#include "herald/client/consumer.h"

namespace herald::bench {

struct SubscriberOptions {
  std::string brokers;
  std::string topic;
  // Values stamped at or after this time count in the latency histogram.
  int64_t measure_from_ns = 0;
  // Payload bytes received between these times count as window bytes.
  int64_t window_from_ns = 0;
  int64_t window_until_ns = INT64_MAX;
  LatencyHistogram* e2e_latency = nullptr;  // may be null
};

class CountingSubscriber {
 public:
  static absl::StatusOr<std::unique_ptr<CountingSubscriber>> Start(SubscriberOptions options);
  ~CountingSubscriber();

  int64_t records() const { return records_.load(); }
  int64_t bytes() const { return bytes_.load(); }
  int64_t window_bytes() const { return window_bytes_.load(); }
  // Waits until at least `records` were received; false after timeout_ms or
  // when the subscription failed.
  bool WaitForRecords(int64_t records, int64_t timeout_ms);
  // Stops the reader thread; returns the subscription's error, if any.
  absl::Status Stop();

 private:
  CountingSubscriber(SubscriberOptions options, std::unique_ptr<client::Consumer> consumer);
  void ReadLoop();

  SubscriberOptions options_;
  std::unique_ptr<client::Consumer> consumer_;
  std::atomic<int64_t> records_{0};
  std::atomic<int64_t> bytes_{0};
  std::atomic<int64_t> window_bytes_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable progressed_;
  absl::Status error_;  // guarded by mu_
  bool done_ = false;   // guarded by mu_
  std::thread reader_;
};

}  // namespace herald::bench

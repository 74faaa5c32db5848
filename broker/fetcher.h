#pragma once
// Fetcher: one-shot reads, with long polling. A fetch with max_wait_ms > 0
// that finds no data is parked: it registers with the OffsetMonitor and
// with one timer thread, and whichever fires first (growth, deletion,
// deadline, Stop) claims it and completes it on the ReadPool. The number of
// parked fetches is bounded (RESOURCE_EXHAUSTED beyond).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "broker/broker.h"
#include "broker/broker_context.h"

namespace herald::broker {

class Fetcher {
 public:
  Fetcher(std::shared_ptr<BrokerContext> ctx, size_t max_parked);
  ~Fetcher();  // Stop()

  // Runs the read on the ReadPool; `done` runs exactly once.
  void Fetch(const TopicState& topic, const FetchRequest& request, FetchCallback done);

  // Completes parked fetches with UNAVAILABLE and joins the timer thread.
  // Later fetches fail with UNAVAILABLE. Idempotent.
  void Stop();

  size_t parked() const;

 private:
  class Parked;

  void FetchNow(const FetchRequest& request, storage::PartitionKey key, FetchCallback done);
  void Park(const FetchRequest& request, storage::PartitionKey key, FetchCallback done);
  // For a claimed fetch: forgets it and completes it (reading, unless
  // `status` is an error).
  void Complete(const std::shared_ptr<Parked>& parked, absl::Status status);
  void TimerLoop();

  const std::shared_ptr<BrokerContext> ctx_;
  const size_t max_parked_;
  mutable std::mutex mu_;
  std::condition_variable timer_cv_;
  bool stopped_ = false;
  uint64_t next_id_ = 0;
  std::map<uint64_t, std::shared_ptr<Parked>> parked_;
  std::multimap<int64_t, uint64_t> deadlines_;  // monotonic ms -> parked id
  std::thread timer_;
};

}  // namespace herald::broker

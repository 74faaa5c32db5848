#pragma once
// Helpers shared by the broker tests: RecordBatch payloads built by hand
// (the core has no protobuf), a recording SubscriptionSink, and waits on
// conditions (never sleeps as synchronisation).
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "broker/broker.h"
#include "common/wire.h"

namespace herald::broker::testing {

struct TestRecord {
  std::string key;
  std::string value;
  int64_t timestamp_ms = 0;
};

inline std::string EncodeRecords(const std::vector<TestRecord>& records) {
  std::string batch;
  for (const TestRecord& r : records) {
    std::string rec;
    if (!r.key.empty()) {
      wire::AppendTag(&rec, 1, wire::kLengthDelimited);
      wire::AppendVarint(&rec, r.key.size());
      rec += r.key;
    }
    wire::AppendTag(&rec, 2, wire::kLengthDelimited);
    wire::AppendVarint(&rec, r.value.size());
    rec += r.value;
    if (r.timestamp_ms != 0) {
      wire::AppendTag(&rec, 4, wire::kVarint);
      wire::AppendVarint(&rec, static_cast<uint64_t>(r.timestamp_ms));
    }
    wire::AppendTag(&batch, 1, wire::kLengthDelimited);
    wire::AppendVarint(&batch, rec.size());
    batch += rec;
  }
  return batch;
}

inline std::string OneRecord(const std::string& value, const std::string& key = "",
                             int64_t timestamp_ms = 0) {
  return EncodeRecords({{key, value, timestamp_ms}});
}

// Records every sink call; tests wait on its condition variable.
class RecordingSink final : public SubscriptionSink {
 public:
  void OnBatches(std::vector<FetchedBatch> batches) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++deliveries_;
    for (auto& b : batches) batches_.push_back(std::move(b));
    cv_.notify_all();
  }
  void OnError(absl::Status status) override {
    std::lock_guard<std::mutex> lock(mu_);
    errors_.push_back(std::move(status));
    cv_.notify_all();
  }

  // Waits until `pred` (called with the lock held) is true or 10 s pass.
  template <typename Pred>
  bool WaitUntil(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(); });
  }
  bool WaitForBatches(size_t n) {
    return WaitUntil([&] { return batches_.size() >= n; });
  }
  bool WaitForError() {
    return WaitUntil([&] { return !errors_.empty(); });
  }

  // For WaitUntil predicates, which run with the lock held.
  int deliveries_locked() const { return deliveries_; }

  size_t batch_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_.size();
  }
  int deliveries() {
    std::lock_guard<std::mutex> lock(mu_);
    return deliveries_;
  }
  std::vector<FetchedBatch> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  std::vector<absl::Status> errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int deliveries_ = 0;
  std::vector<FetchedBatch> batches_;
  std::vector<absl::Status> errors_;
};

// Produce and wait for the result (the callback may run on any thread).
inline absl::StatusOr<ProduceResult> ProduceSync(Broker* broker, ProduceBatch batch) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::StatusOr<ProduceResult>> result;
  broker->Produce(std::move(batch), [&](absl::StatusOr<ProduceResult> r) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(r);
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return result.has_value(); });
  return *std::move(result);
}

inline absl::StatusOr<ProduceResult> ProduceTo(Broker* broker, const std::string& topic,
                                               std::optional<int32_t> partition,
                                               std::string payload) {
  ProduceBatch b;
  b.topic = topic;
  b.partition = partition;
  b.payload = std::move(payload);
  return ProduceSync(broker, std::move(b));
}

inline absl::StatusOr<FetchResult> FetchSync(Broker* broker, const FetchRequest& request) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::StatusOr<FetchResult>> result;
  broker->Fetch(request, [&](absl::StatusOr<FetchResult> r) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(r);
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return result.has_value(); });
  return *std::move(result);
}

}  // namespace herald::broker::testing

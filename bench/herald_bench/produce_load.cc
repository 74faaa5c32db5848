#include "bench/herald_bench/produce_load.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/herald_bench/measurement.h"
#include "herald/client/producer.h"

namespace herald::bench {
namespace {

constexpr int32_t kMaxDriverThreads = 4;
// Producer memory across all producers of one load, so 100 producers do not
// buffer 100 x 32 MiB.
constexpr int64_t kTotalBufferBytes = 128 << 20;

// Shared by all delivery callbacks of one load.
struct AckState {
  int64_t measure_from_ns = 0;
  int64_t measure_until_ns = 0;
  LatencyHistogram* latency = nullptr;
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> in_window{0};
  std::atomic<int64_t> errors{0};
  std::mutex mu;
  std::string first_error;

  void OnDelivery(const client::DeliveryResult& r, int64_t due_ns) {
    const int64_t now_ns = NowNs();
    if (!r.ok()) {
      if (errors.fetch_add(1) == 0) {
        std::lock_guard<std::mutex> lock(mu);
        first_error = r.status().ToString();
      }
      return;
    }
    acked.fetch_add(1, std::memory_order_relaxed);
    if (now_ns >= measure_from_ns && now_ns <= measure_until_ns) {
      in_window.fetch_add(1, std::memory_order_relaxed);
    }
    if (latency != nullptr && due_ns >= measure_from_ns) latency->Record(now_ns - due_ns);
  }
};

absl::StatusOr<std::vector<std::unique_ptr<client::Producer>>> MakeProducers(
    const ProduceLoad& load) {
  client::ProducerOptions options;
  options.connection.brokers = load.brokers;
  options.acks = load.acks;
  options.linger_ms = load.linger_ms;
  options.buffer_max_bytes =
      std::clamp<int64_t>(kTotalBufferBytes / std::max(1, load.producers), 1 << 20, 32 << 20);
  std::vector<std::unique_ptr<client::Producer>> producers;
  for (int32_t i = 0; i < load.producers; ++i) {
    auto p = client::Producer::Create(options);
    if (!p.ok()) return p.status();
    producers.push_back(std::move(*p));
  }
  return producers;
}

std::optional<int32_t> PartitionFor(const ProduceLoad& load) {
  if (load.partitions == 1) return 0;
  return std::nullopt;  // sticky: the client fills one partition's batch, then moves on
}

// One driver thread: round-robin over its producers at max rate until the
// deadline, the record budget or `stop`.
void DriveMaxRate(const ProduceLoad& load, std::vector<client::Producer*> mine, AckState* acks,
                  int64_t deadline_ns, std::atomic<int64_t>* budget, const std::atomic<bool>* stop,
                  std::atomic<int64_t>* sent) {
  std::string value(std::max<int32_t>(load.record_bytes, 8), 'x');
  int64_t local_sent = 0;
  for (size_t i = 0;; ++i) {
    if (budget->fetch_sub(1, std::memory_order_relaxed) <= 0) break;
    const int64_t now_ns = NowNs();
    if (now_ns >= deadline_ns || (stop != nullptr && stop->load(std::memory_order_relaxed))) break;
    StampValue(&value, now_ns);
    client::Record record;
    record.value = value;
    mine[i % mine.size()]->Send(
        load.topic, std::move(record), PartitionFor(load),
        [acks, now_ns](const client::DeliveryResult& r) { acks->OnDelivery(r, now_ns); });
    ++local_sent;
  }
  sent->fetch_add(local_sent);
}

// Record i is due at start + i / rate and goes to producer i % n (the rate
// is the total over all producers). Sleeps only while ahead.
void DriveFixedRate(const ProduceLoad& load, std::vector<client::Producer*> producers,
                    AckState* acks, int64_t start_ns, int64_t deadline_ns,
                    const std::atomic<bool>* stop, std::atomic<int64_t>* sent) {
  std::string value(std::max<int32_t>(load.record_bytes, 8), 'x');
  const double period_ns = 1e9 / load.rate_per_s;
  int64_t i = 0;
  for (;; ++i) {
    if (load.max_records > 0 && i >= load.max_records) break;
    const int64_t due_ns = start_ns + static_cast<int64_t>(i * period_ns);
    if (due_ns >= deadline_ns || (stop != nullptr && stop->load(std::memory_order_relaxed))) break;
    while (NowNs() < due_ns) {
      std::this_thread::sleep_for(
          std::chrono::nanoseconds(std::min<int64_t>(due_ns - NowNs(), 200'000)));
    }
    StampValue(&value, due_ns);
    client::Record record;
    record.value = value;
    producers[i % producers.size()]->Send(
        load.topic, std::move(record), PartitionFor(load),
        [acks, due_ns](const client::DeliveryResult& r) { acks->OnDelivery(r, due_ns); });
  }
  sent->fetch_add(i);
}

}  // namespace

void StampValue(std::string* value, int64_t stamp_ns) {
  std::memcpy(value->data(), &stamp_ns, sizeof(stamp_ns));
}

int64_t ReadStamp(const std::string& value) {
  int64_t stamp_ns = 0;
  if (value.size() >= sizeof(stamp_ns)) std::memcpy(&stamp_ns, value.data(), sizeof(stamp_ns));
  return stamp_ns;
}

absl::StatusOr<ProduceOutcome> RunProduce(const ProduceLoad& load, LatencyHistogram* ack_latency,
                                          const std::atomic<bool>* stop) {
  auto producers = MakeProducers(load);
  if (!producers.ok()) return producers.status();
  AckState acks;
  const int64_t start_ns = NowNs();
  acks.measure_from_ns = start_ns + load.warmup_ms * 1'000'000;
  const int64_t deadline_ns = acks.measure_from_ns + load.duration_ms * 1'000'000;
  // A record budget (peer mode) counts every record; the window then ends at the last ack.
  acks.measure_until_ns = load.max_records > 0 ? INT64_MAX : deadline_ns;
  acks.latency = ack_latency;
  std::atomic<int64_t> budget{load.max_records > 0 ? load.max_records : INT64_MAX};
  std::atomic<int64_t> sent{0};
  std::vector<std::thread> drivers;
  if (load.rate_per_s > 0) {
    std::vector<client::Producer*> all;
    for (auto& p : *producers) all.push_back(p.get());
    drivers.emplace_back(DriveFixedRate, std::cref(load), all, &acks, start_ns, deadline_ns, stop,
                         &sent);
  } else {
    const int32_t n = std::min(kMaxDriverThreads, load.producers);
    for (int32_t d = 0; d < n; ++d) {
      std::vector<client::Producer*> mine;
      for (size_t p = d; p < producers->size(); p += n) mine.push_back((*producers)[p].get());
      drivers.emplace_back(DriveMaxRate, std::cref(load), mine, &acks, deadline_ns, &budget, stop,
                           &sent);
    }
  }
  for (auto& t : drivers) t.join();
  const int64_t sent_done_ns = NowNs();
  for (auto& p : *producers) {
    if (absl::Status s = p->Flush(120'000); !s.ok() && acks.errors.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> lock(acks.mu);
      acks.first_error = s.ToString();
    }
  }
  const int64_t flushed_ns = NowNs();
  for (auto& p : *producers) p->Close(10'000);
  producers->clear();  // no callback may run once `acks` goes out of scope
  ProduceOutcome out;
  out.records_sent = sent.load();
  out.records_acked = acks.acked.load();
  out.records_in_window = acks.in_window.load();
  const int64_t window_end_ns =
      load.max_records > 0 ? flushed_ns : std::min(deadline_ns, sent_done_ns);
  out.window_s = std::max<int64_t>(window_end_ns - acks.measure_from_ns, 1) / 1e9;
  out.errors = acks.errors.load();
  out.first_error = acks.first_error;
  if (out.records_acked == 0) {
    return absl::UnavailableError(absl::StrCat("no record acknowledged (", out.errors,
                                               " errors; first: ", out.first_error, ")"));
  }
  return out;
}

}  // namespace herald::bench

#include "broker/fetcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "broker/positions.h"

namespace herald::broker {

class Fetcher::Parked final : public PartitionWaiter, public std::enable_shared_from_this<Parked> {
 public:
  Parked(Fetcher* fetcher, uint64_t id, FetchRequest request, storage::PartitionKey key,
         FetchCallback done)
      : fetcher_(fetcher),
        id_(id),
        request_(std::move(request)),
        key_(key),
        done_(std::move(done)) {}

  // True for exactly one caller: the one that completes the fetch.
  bool Claim() { return !claimed_.exchange(true); }

  void OnGrowth(storage::PartitionKey, int64_t high_watermark) override {
    if (high_watermark > request_.offset) PostCompletion(absl::OkStatus());
  }
  void OnDeleted(storage::PartitionKey) override {
    PostCompletion(absl::NotFoundError(absl::StrCat("topic \"", request_.topic, "\" was deleted")));
  }
  // Runs under the monitor's lock: only hand the work to the pool. Each
  // parked fetch posts at most once, so this is bounded by max_parked.
  void PostCompletion(absl::Status status) {
    if (!Claim()) return;
    auto self = shared_from_this();
    const bool posted = fetcher_->ctx_->pool.PostReserved(
        [self, status]() mutable { self->fetcher_->Complete(self, std::move(status)); });
    // Only after the pool stopped, which Shutdown does after Fetcher::Stop
    // has completed every parked fetch: kept so `done` still runs once.
    if (!posted) done_(absl::UnavailableError("broker is shutting down"));
  }

  Fetcher* const fetcher_;
  const uint64_t id_;
  const FetchRequest request_;
  const storage::PartitionKey key_;
  FetchCallback done_;
  std::atomic<bool> claimed_{false};
};

Fetcher::Fetcher(std::shared_ptr<BrokerContext> ctx, size_t max_parked)
    : ctx_(std::move(ctx)), max_parked_(max_parked), timer_([this] { TimerLoop(); }) {}

Fetcher::~Fetcher() { Stop(); }

size_t Fetcher::parked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return parked_.size();
}

void Fetcher::Fetch(const TopicState& topic, const FetchRequest& request, FetchCallback done) {
  if (request.partition < 0 || request.partition >= topic.partition_count) {
    done(absl::NotFoundError(absl::StrCat("topic \"", topic.name, "\" has ", topic.partition_count,
                                          " partitions; partition ", request.partition,
                                          " does not exist")));
    return;
  }
  const storage::PartitionKey key = topic.Key(request.partition);
  // The task owns `done`; if the pool refuses it, get it back to fail it.
  auto shared_done = std::make_shared<FetchCallback>(std::move(done));
  const bool posted = ctx_->pool.TryPost(
      [this, request, key, shared_done] { FetchNow(request, key, std::move(*shared_done)); });
  if (!posted) {
    (*shared_done)(absl::ResourceExhaustedError("too many fetches queued; retry later"));
  }
}

void Fetcher::FetchNow(const FetchRequest& request, storage::PartitionKey key, FetchCallback done) {
  auto hw = ctx_->monitor.HighWatermark(key);
  if (!hw.ok()) {
    done(absl::NotFoundError(absl::StrCat("topic \"", request.topic, "\" was deleted")));
    return;
  }
  auto stats = ctx_->store->Stats(key);
  if (!stats.ok()) {
    done(stats.status());
    return;
  }
  const int64_t start = std::min(stats->log_start_offset, *hw);
  if (request.offset < start || request.offset > *hw) {
    done(OffsetOutOfRange(request.offset, start, *hw));
    return;
  }
  if (request.offset == *hw && request.max_wait_ms > 0) {
    Park(request, key, std::move(done));
    return;
  }
  FetchResult result;
  result.log_start_offset = start;
  result.high_watermark = *hw;
  if (request.offset < *hw) {
    storage::ReadOptions options;
    options.start_offset = request.offset;
    options.max_bytes = std::max<int64_t>(request.max_bytes, 1);
    options.max_offset = *hw;
    auto read = ctx_->store->Read(key, options);
    if (!read.ok()) {
      done(read.status());
      return;
    }
    result.log_start_offset = read->log_start_offset;
    int64_t past_control = -1;
    for (storage::ReadBatch& b : read->batches) {
      // Control batches (Raft no-ops) are the log's own: consumers only see
      // the offset gap.
      if (b.header.control) {
        past_control = b.header.next_offset();
        continue;
      }
      if (auto s = TrimStoredBatchBefore(&b.header, &b.stored, request.offset); !s.ok()) {
        done(s);
        return;
      }
      result.batches.push_back({request.topic, request.partition, b.header, std::move(b.stored)});
    }
    if (result.batches.empty() && past_control > request.offset) {
      // Only control batches: fetch again after them (this may park there).
      FetchRequest next = request;
      next.offset = past_control;
      FetchNow(next, key, std::move(done));
      return;
    }
  }
  done(std::move(result));
}

void Fetcher::Park(const FetchRequest& request, storage::PartitionKey key, FetchCallback done) {
  std::shared_ptr<Parked> parked;
  absl::Status refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) {
      refused = absl::UnavailableError("broker is shutting down");
    } else if (parked_.size() >= max_parked_) {
      refused = absl::ResourceExhaustedError(
          absl::StrCat("too many waiting fetches (", max_parked_, "); retry later"));
    } else {
      const uint64_t id = next_id_++;
      parked = std::make_shared<Parked>(this, id, request, key, std::move(done));
      parked_[id] = parked;
      const int64_t deadline_ms = ctx_->options.clock->MonotonicMs() + request.max_wait_ms;
      deadlines_.emplace(deadline_ms, id);
    }
  }
  if (!refused.ok()) {
    done(std::move(refused));  // outside mu_: callbacks never run under our locks
    return;
  }
  timer_cv_.notify_one();
  auto hw = ctx_->monitor.Register(key, parked.get());
  if (!hw.ok()) {
    parked->PostCompletion(
        absl::NotFoundError(absl::StrCat("topic \"", request.topic, "\" was deleted")));
  } else if (*hw > request.offset) {
    parked->PostCompletion(absl::OkStatus());  // grew before we registered
  }
}

void Fetcher::Complete(const std::shared_ptr<Parked>& parked, absl::Status status) {
  ctx_->monitor.Unregister(parked->key_, parked.get());
  {
    std::lock_guard<std::mutex> lock(mu_);
    parked_.erase(parked->id_);
  }
  if (!status.ok()) {
    parked->done_(std::move(status));
    return;
  }
  // Re-run the fetch without waiting: it returns the new data, or an empty
  // result at the deadline.
  FetchRequest request = parked->request_;
  request.max_wait_ms = 0;
  FetchNow(request, parked->key_, std::move(parked->done_));
}

void Fetcher::TimerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    const int64_t now_ms = ctx_->options.clock->MonotonicMs();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
      auto it = parked_.find(deadlines_.begin()->second);
      deadlines_.erase(deadlines_.begin());
      if (it != parked_.end()) it->second->PostCompletion(absl::OkStatus());
    }
    // Capped so an injected (fake) clock is re-read now and then.
    int64_t wait_ms = 100;
    if (!deadlines_.empty()) wait_ms = std::min(wait_ms, deadlines_.begin()->first - now_ms);
    timer_cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wait_ms, 1)));
  }
}

void Fetcher::Stop() {
  std::map<uint64_t, std::shared_ptr<Parked>> parked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    parked.swap(parked_);
    deadlines_.clear();
  }
  timer_cv_.notify_all();
  timer_.join();
  for (auto& [id, p] : parked) {
    if (!p->Claim()) continue;  // already completing on the pool
    ctx_->monitor.Unregister(p->key_, p.get());
    p->done_(absl::UnavailableError("broker is shutting down"));
  }
}

}  // namespace herald::broker

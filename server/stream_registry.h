#pragma once
// Open streaming RPCs, so that shutdown can end each of them with
// UNAVAILABLE ("server shutting down") instead of waiting for clients.
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"

namespace herald::server {

class StreamHandle {
 public:
  virtual ~StreamHandle() = default;
  // Ends the stream soon with `status` (after in-flight work completes).
  // Must not block and must not call back into the registry.
  virtual void EndStream(absl::Status status) = 0;
};

class StreamRegistry {
 public:
  // False once shutdown began: the caller ends the new stream at once.
  bool Add(StreamHandle* stream) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    streams_.insert(stream);
    return true;
  }
  void Remove(StreamHandle* stream) {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.erase(stream);
    if (streams_.empty()) emptied_.notify_all();
  }
  // Refuses new streams and ends every open one. Lock order: registry, then
  // the stream's own mutex (streams never call the registry under theirs).
  void EndAll(const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    for (StreamHandle* s : streams_) s->EndStream(status);
  }
  // Waits until every stream has finished (their final status sent), or the
  // timeout passes. True if none is left.
  bool WaitUntilEmpty(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return emptied_.wait_for(lock, timeout, [this] { return streams_.empty(); });
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return streams_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable emptied_;
  bool closed_ = false;
  absl::flat_hash_set<StreamHandle*> streams_;
};

}  // namespace herald::server

#pragma once
// A SubscriptionSink for group tests: records batches, assignments, revokes
// and errors; optionally answers every Revoke with RevokeDone at once.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "broker/broker.h"

namespace herald::broker::testing {

class GroupSink final : public SubscriptionSink {
 public:
  // The subscription to confirm revokes and hand deliveries back to.
  void Attach(Subscription* sub, bool auto_revoke_done) {
    std::lock_guard<std::mutex> lock(mu_);
    sub_ = sub;
    auto_revoke_done_ = auto_revoke_done;
  }
  void OnBatches(std::vector<FetchedBatch> batches) override {
    Subscription* sub;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& b : batches) {
        // Batches of a partition it does not own would break the protocol.
        if (!owned_.count({b.topic, b.partition})) ++foreign_batches_;
        batches_.push_back(std::move(b));
      }
      sub = sub_;
      cv_.notify_all();
    }
    if (sub != nullptr) sub->DeliveryDone();
  }
  void OnError(absl::Status status) override {
    std::lock_guard<std::mutex> lock(mu_);
    errors_.push_back(std::move(status));
    cv_.notify_all();
  }
  void OnAssignment(const GroupAssignment& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    assignments_.push_back(a);
    owned_.clear();
    for (const GroupPartition& p : a.partitions) owned_.insert({p.topic, p.partition});
    cv_.notify_all();
  }
  void OnRevoke(const GroupRevoke& r) override {
    Subscription* sub = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      revokes_.push_back(r);
      for (const GroupPartition& p : r.partitions) owned_.erase({p.topic, p.partition});
      if (auto_revoke_done_) sub = sub_;
      cv_.notify_all();
    }
    if (sub != nullptr) sub->RevokeDone(r.generation, r.partitions).IgnoreError();
  }

  template <typename Pred>
  bool WaitUntil(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(); });
  }
  // Owns n partitions, as confirmed by an Assignment (not only a Revoke).
  bool WaitForOwned(size_t n) {
    return WaitUntil([&] {
      return owned_.size() == n && !assignments_.empty() &&
             assignments_.back().partitions.size() == n;
    });
  }

  // For WaitUntil predicates (lock held).
  const std::set<std::pair<std::string, int32_t>>& owned_locked() const { return owned_; }
  size_t batches_locked() const { return batches_.size(); }
  size_t errors_locked() const { return errors_.size(); }

  std::set<std::pair<std::string, int32_t>> owned() {
    std::lock_guard<std::mutex> lock(mu_);
    return owned_;
  }
  std::vector<FetchedBatch> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  std::vector<GroupAssignment> assignments() {
    std::lock_guard<std::mutex> lock(mu_);
    return assignments_;
  }
  std::vector<GroupRevoke> revokes() {
    std::lock_guard<std::mutex> lock(mu_);
    return revokes_;
  }
  std::vector<absl::Status> errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }
  int foreign_batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return foreign_batches_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  Subscription* sub_ = nullptr;
  bool auto_revoke_done_ = false;
  std::set<std::pair<std::string, int32_t>> owned_;
  std::vector<FetchedBatch> batches_;
  std::vector<GroupAssignment> assignments_;
  std::vector<GroupRevoke> revokes_;
  std::vector<absl::Status> errors_;
  int foreign_batches_ = 0;
};

}  // namespace herald::broker::testing

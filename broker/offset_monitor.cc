#include "broker/offset_monitor.h"

#include "absl/strings/str_cat.h"

namespace herald::broker {
namespace {

absl::Status Untracked(storage::PartitionKey key) {
  return absl::NotFoundError(
      absl::StrCat("partition ", key.topic_id, "/", key.partition, " is not known"));
}

}  // namespace

void OffsetMonitor::AddPartition(storage::PartitionKey key, int64_t high_watermark) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = partitions_[key];
  if (high_watermark > e.high_watermark) e.high_watermark = high_watermark;
}

void OffsetMonitor::RemovePartition(storage::PartitionKey key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = partitions_.find(key);
  if (it == partitions_.end()) return;
  for (PartitionWaiter* w : it->second.waiters) w->OnDeleted(key);
  partitions_.erase(it);
}

void OffsetMonitor::OnAppend(storage::PartitionKey key, int64_t log_end_offset) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = partitions_.find(key);
  if (it == partitions_.end()) return;  // deleted while the append was queued
  Entry& e = it->second;
  if (log_end_offset <= e.high_watermark) return;
  e.high_watermark = log_end_offset;
  for (PartitionWaiter* w : e.waiters) w->OnGrowth(key, log_end_offset);
}

absl::StatusOr<int64_t> OffsetMonitor::HighWatermark(storage::PartitionKey key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = partitions_.find(key);
  if (it == partitions_.end()) return Untracked(key);
  return it->second.high_watermark;
}

absl::StatusOr<int64_t> OffsetMonitor::Register(storage::PartitionKey key,
                                                PartitionWaiter* waiter) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = partitions_.find(key);
  if (it == partitions_.end()) return Untracked(key);
  it->second.waiters.insert(waiter);
  return it->second.high_watermark;
}

void OffsetMonitor::Unregister(storage::PartitionKey key, PartitionWaiter* waiter) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = partitions_.find(key);
  if (it != partitions_.end()) it->second.waiters.erase(waiter);
}

size_t OffsetMonitor::WaiterCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [key, e] : partitions_) n += e.waiters.size();
  return n;
}

}  // namespace herald::broker

#include "broker/read_pool.h"

#include <algorithm>

namespace herald::broker {

ReadPool::ReadPool(int32_t threads, size_t max_queued_tasks) : max_queued_tasks_(max_queued_tasks) {
  const int32_t n = std::max(threads, 1);
  threads_.reserve(n);
  for (int32_t i = 0; i < n; ++i) threads_.emplace_back([this] { WorkerLoop(); });
}

ReadPool::~ReadPool() { Stop(); }

bool ReadPool::TryPost(Task task) { return Post(std::move(task), /*bounded=*/true); }

bool ReadPool::PostReserved(Task task) { return Post(std::move(task), /*bounded=*/false); }

bool ReadPool::Post(Task task, bool bounded) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return false;
    if (bounded) {
      if (bounded_queued_ >= max_queued_tasks_) return false;
      ++bounded_queued_;
    }
    queue_.push_back({std::move(task), bounded});
  }
  cv_.notify_one();
  return true;
}

void ReadPool::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    Item item = std::move(queue_.front());
    queue_.pop_front();
    if (item.bounded) --bounded_queued_;
    lock.unlock();
    std::move(item.task)();
    lock.lock();
  }
}

void ReadPool::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (std::thread& t : threads) t.join();
  // A task posted after the last worker exited still runs, here: callers
  // rely on every accepted task running exactly once.
  std::unique_lock<std::mutex> lock(mu_);
  while (!queue_.empty()) {
    Item item = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    std::move(item.task)();
    lock.lock();
  }
  stopped_ = true;
}

}  // namespace herald::broker

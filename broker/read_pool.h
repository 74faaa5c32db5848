#pragma once
// ReadPool: the fixed set of threads that read the log for subscriptions and
// fetches, so reads never run on gRPC or storage-writer threads and the
// number of reading threads never grows with load.
//
// Two kinds of work share one FIFO (FIFO is what makes subscriptions fair):
//  - TryPost: bounded by max_queued_tasks (fetches); false when full.
//  - PostReserved: for subscriptions, each of which is queued at most once
//    (it keeps a `scheduled` flag), so this part of the queue is bounded by
//    the number of open subscriptions.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"

namespace herald::broker {

class ReadPool {
 public:
  using Task = absl::AnyInvocable<void() &&>;

  ReadPool(int32_t threads, size_t max_queued_tasks);
  ~ReadPool();  // Stop()
  ReadPool(const ReadPool&) = delete;
  ReadPool& operator=(const ReadPool&) = delete;

  // False if the bounded part of the queue is full or the pool stopped.
  bool TryPost(Task task);
  // False only if the pool stopped.
  bool PostReserved(Task task);

  // Runs every queued task (including ones queued while stopping), joins the
  // threads; later posts are refused. Idempotent. Not from a pool thread.
  void Stop();

 private:
  bool Post(Task task, bool bounded);
  void WorkerLoop();

  const size_t max_queued_tasks_;
  std::mutex mu_;
  std::condition_variable cv_;
  struct Item {
    Task task;
    bool bounded;
  };
  std::deque<Item> queue_;
  size_t bounded_queued_ = 0;
  bool stopping_ = false;
  bool stopped_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace herald::broker

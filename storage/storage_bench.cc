// storage_bench: append and read throughput of the RocksDB LogStore.
//
//   storage_bench [dir]   (default: a fresh directory under /tmp)
//
// Appends batches of 100 B and 1 KiB records (16 records per batch) to 4
// partitions with up to 256 appends in flight, synced and not, then reads one
// partition back sequentially. Prints one line per scenario.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "storage/storage_test_util.h"

namespace herald::storage {
namespace {

constexpr int kPartitions = 4;
constexpr int kRecordsPerBatch = 16;
constexpr int kInFlight = 256;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

AppendRequest BatchOf(int partition, int record_bytes, bool sync) {
  std::vector<int64_t> ts(kRecordsPerBatch, 0);
  // Tag sized so each record's value is about record_bytes.
  AppendRequest r = testing::MakeRequest({1, partition}, ts, std::string(record_bytes - 4, 'r'));
  r.sync = sync;
  return r;
}

void BenchAppends(LogStore& store, int record_bytes, bool sync, int batches) {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0, failed = 0;
  int64_t bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < batches; ++i) {
    AppendRequest r = BatchOf(i % kPartitions, record_bytes, sync);
    bytes += static_cast<int64_t>(r.payload.size() + kBatchHeaderBytes);
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return in_flight < kInFlight; });
    ++in_flight;
    lock.unlock();
    store.Append(std::move(r), [&](absl::StatusOr<AppendResult> result) {
      std::lock_guard<std::mutex> guard(mu);
      if (!result.ok()) ++failed;
      --in_flight;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return in_flight == 0; });
  const double secs = SecondsSince(start);
  std::printf(
      "append %5d B records, sync=%d: %9.0f records/s %9.0f batches/s %7.1f MB/s (%d failed)\n",
      record_bytes, sync, batches * kRecordsPerBatch / secs, batches / secs, bytes / secs / 1e6,
      failed);
}

void BenchRead(LogStore& store) {
  const auto start = std::chrono::steady_clock::now();
  int64_t bytes = 0, offset = 0;
  for (;;) {
    ReadOptions ro;
    ro.start_offset = offset;
    auto r = store.Read({1, 0}, ro);
    if (!r.ok() || r->batches.empty()) break;
    for (const auto& b : r->batches) bytes += static_cast<int64_t>(b.stored.size());
    offset = r->batches.back().header.next_offset();
  }
  const double secs = SecondsSince(start);
  std::printf("sequential read (verify crc): %7.1f MB/s (%lld bytes)\n", bytes / secs / 1e6,
              static_cast<long long>(bytes));
}

int Main(int argc, char** argv) {
  testing::TempDir temp;
  RocksLogStoreOptions options;
  options.path = argc > 1 ? argv[1] : temp.Sub("bench");
  auto store = OpenRocksLogStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  for (int p = 0; p < kPartitions; ++p) {
    if (!(*store)->CreatePartition({1, p}).ok()) return 1;
  }
  for (int record_bytes : {100, 1024}) {
    for (bool sync : {false, true}) {
      BenchAppends(**store, record_bytes, sync, record_bytes == 100 ? 40000 : 10000);
    }
  }
  for (const auto& [name, value] : (*store)->EngineStats()) {
    if (name == "average_group_batches" || name == "synced_group_commits_total") {
      std::printf("%s = %.1f\n", name.c_str(), value);
    }
  }
  BenchRead(**store);
  (*store)->Close();
  return 0;
}

}  // namespace
}  // namespace herald::storage

int main(int argc, char** argv) { return herald::storage::Main(argc, argv); }

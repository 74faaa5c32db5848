// Crash safety: a child process appends with sync=true and reports every
// acknowledged offset through a pipe; the parent SIGKILLs it mid-load, reopens
// the store and checks that every acknowledged batch is there byte for byte.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "storage/storage_test_util.h"

namespace herald::storage {
namespace {

using ::herald::storage::testing::MakeRequest;
using ::herald::storage::testing::TempDir;

constexpr int kPartitions = 3;
constexpr int kAcksBeforeKill = 400;

// Deterministic content for append number `seq`, so the parent can rebuild it.
AppendRequest RequestFor(int partition, int64_t seq) {
  const std::string tag = absl::StrCat("p", partition, "s", seq, std::string(seq % 257, 'x'));
  return MakeRequest(PartitionKey{11, partition}, {seq + 1, 0, seq + 3}, tag, /*sync=*/true);
}

// The child: never returns. Keeps up to 32 appends in flight.
[[noreturn]] void RunChild(const std::string& path, int ack_fd) {
  RocksLogStoreOptions options;
  options.path = path;
  options.write_buffer_bytes = 8 << 20;
  auto store = OpenRocksLogStore(options);
  if (!store.ok()) _exit(2);
  for (int p = 0; p < kPartitions; ++p) {
    if (!(*store)->CreatePartition({11, p}).ok()) _exit(3);
  }
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  for (int64_t seq = 0; seq < 1'000'000; ++seq) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < 32; });
      ++in_flight;
    }
    const int partition = static_cast<int>(seq % kPartitions);
    (*store)->Append(
        RequestFor(partition, seq), [&, partition, seq](absl::StatusOr<AppendResult> r) {
          if (r.ok()) {
            // One short write per ack: atomic on a pipe (< PIPE_BUF).
            const std::string line = absl::StrCat(partition, " ", r->base_offset, " ", seq, "\n");
            if (write(ack_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
              _exit(4);
          }
          std::lock_guard<std::mutex> lock(mu);
          --in_flight;
          cv.notify_all();
        });
  }
  _exit(0);  // not reached in the test: the parent kills us first
}

struct Ack {
  int partition;
  int64_t offset;
  int64_t seq;
};

// Reads acks until `stop_after` (or EOF when stop_after < 0).
void ReadAcks(FILE* in, int stop_after, std::vector<Ack>* acks) {
  char line[128];
  while ((stop_after < 0 || static_cast<int>(acks->size()) < stop_after) &&
         fgets(line, sizeof(line), in) != nullptr) {
    Ack a{};
    if (sscanf(line, "%d %ld %ld", &a.partition, &a.offset, &a.seq) == 3) acks->push_back(a);
  }
}

TEST(RocksLogStoreCrash, EverySyncedAckSurvivesSigkill) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    RunChild(path, fds[1]);
  }
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  ASSERT_NE(in, nullptr);
  std::vector<Ack> acks;
  ReadAcks(in, kAcksBeforeKill, &acks);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
  ReadAcks(in, -1, &acks);  // acks already in the pipe were acked before the kill
  fclose(in);
  ASSERT_GE(acks.size(), static_cast<size_t>(kAcksBeforeKill));

  RocksLogStoreOptions options;
  options.path = path;
  auto store = OpenRocksLogStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  for (const Ack& a : acks) {
    ReadOptions ro;
    ro.start_offset = a.offset;
    ro.max_bytes = 1;
    auto read = (*store)->Read({11, a.partition}, ro);
    ASSERT_TRUE(read.ok()) << "partition " << a.partition << " offset " << a.offset << ": "
                           << read.status();
    ASSERT_EQ(read->batches.size(), 1u);
    const ReadBatch& b = read->batches[0];
    const AppendRequest expected = RequestFor(a.partition, a.seq);
    EXPECT_EQ(b.header.base_offset, a.offset);
    EXPECT_EQ(BatchPayload(b.stored), expected.payload) << "offset " << a.offset;
    EXPECT_EQ(b.header.payload_crc, expected.header.payload_crc);
  }
  // And the logs are dense from 0 with consistent stats.
  for (int p = 0; p < kPartitions; ++p) {
    ReadOptions ro;
    ro.max_bytes = 256 << 20;
    auto read = (*store)->Read({11, p}, ro);
    ASSERT_TRUE(read.ok()) << read.status();
    int64_t next = 0, bytes = 0;
    for (const ReadBatch& b : read->batches) {
      EXPECT_EQ(b.header.base_offset, next);
      next = b.header.next_offset();
      bytes += static_cast<int64_t>(b.stored.size());
    }
    auto stats = (*store)->Stats({11, p});
    EXPECT_EQ(stats->log_end_offset, next);
    EXPECT_EQ(stats->size_bytes, bytes);
  }
}

}  // namespace
}  // namespace herald::storage

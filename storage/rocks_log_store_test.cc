// Behaviour of the RocksDB LogStore: appends, reads, offsets, metadata,
// group commit, reopen and shutdown.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/storage_test_util.h"

namespace herald::storage {
namespace {

using ::herald::storage::testing::AppendAndWait;
using ::herald::storage::testing::EngineStat;
using ::herald::storage::testing::MakePayload;
using ::herald::storage::testing::MakeRequest;
using ::herald::storage::testing::TempDir;
using ::testing::HasSubstr;

constexpr PartitionKey kP0{7, 0};

class RocksLogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    RocksLogStoreOptions options;
    options.path = dir_.Sub("db");
    options.clock = &clock_;
    options.write_buffer_bytes = 16 << 20;
    options.block_cache_bytes = 8 << 20;
    auto store = OpenRocksLogStore(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void Reopen() {
    store_.reset();
    Open();
  }
  // Appends a batch of `n` records without timestamps; returns its base.
  int64_t AppendN(PartitionKey key, int n, const std::string& tag = "v") {
    auto r = AppendAndWait(*store_, MakeRequest(key, std::vector<int64_t>(n, 0), tag));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->base_offset : -1;
  }

  void MustAppend(AppendRequest req) {
    auto r = AppendAndWait(*store_, std::move(req));
    EXPECT_TRUE(r.ok()) << r.status();
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<LogStore> store_;
};

TEST_F(RocksLogStoreTest, AppendThenReadReturnsProducerBytesUntouched) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  AppendRequest req = MakeRequest(kP0, {1000, 0, 3000}, "hello", /*sync=*/true);
  req.header.producer_id = 42;
  req.header.leader_epoch = 3;
  const std::string payload = req.payload;
  auto appended = AppendAndWait(*store_, req);
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->base_offset, 0);
  EXPECT_EQ(appended->append_time_ms, clock_.NowMs());

  auto read = store_->Read(kP0, ReadOptions{});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->batches.size(), 1u);
  const ReadBatch& b = read->batches[0];
  EXPECT_EQ(BatchPayload(b.stored), payload);
  EXPECT_EQ(b.header.base_offset, 0);
  EXPECT_EQ(b.header.record_count, 3);
  EXPECT_EQ(b.header.producer_id, 42);
  EXPECT_EQ(b.header.leader_epoch, 3);
  EXPECT_EQ(b.header.max_timestamp_ms, 3000);
  EXPECT_EQ(b.header.append_time_ms, clock_.NowMs());
  EXPECT_TRUE(DecodeAndVerifyBatch(b.stored).ok());
  EXPECT_EQ(read->log_start_offset, 0);
  EXPECT_EQ(read->log_end_offset, 3);
}

TEST_F(RocksLogStoreTest, OffsetsAreDenseAndIndependentPerPartition) {
  std::map<int, int64_t> next;
  for (int p = 0; p < 6; ++p) ASSERT_TRUE(store_->CreatePartition({9, p}).ok());
  for (int round = 0; round < 20; ++round) {
    for (int p = 0; p < 6; ++p) {
      const int n = 1 + (round + p) % 4;
      EXPECT_EQ(AppendN({9, p}, n), next[p]);
      next[p] += n;
    }
  }
  for (int p = 0; p < 6; ++p) {
    auto stats = store_->Stats({9, p});
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->log_end_offset, next[p]);
    EXPECT_EQ(stats->batch_count, 20);
  }
  EXPECT_EQ(store_->ListPartitions().size(), 6u);
}

TEST_F(RocksLogStoreTest, ConcurrentAppendersKeepPerPartitionOrderAndDensity) {
  constexpr int kThreads = 4, kPerThread = 150, kPartitions = 3;
  for (int p = 0; p < kPartitions; ++p) ASSERT_TRUE(store_->CreatePartition({5, p}).ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Tag "thread:seq": per-thread order must survive in each partition.
        auto r = AppendAndWait(*store_, MakeRequest({5, i % kPartitions}, {0, 0},
                                                    absl::StrCat(t, ":", i), i % 2 == 0));
        if (!r.ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int p = 0; p < kPartitions; ++p) {
    ReadOptions ro;
    ro.max_bytes = 64 << 20;
    auto read = store_->Read({5, p}, ro);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->batches.size(), static_cast<size_t>(kThreads * kPerThread / kPartitions));
    std::map<int, int> last_seq;
    int64_t expected = 0;
    for (const ReadBatch& b : read->batches) {
      EXPECT_EQ(b.header.base_offset, expected);
      expected = b.header.next_offset();
      // Payload starts with the first record's value "t:i-0".
      const std::string payload(BatchPayload(b.stored));
      const size_t at = payload.find(':');
      ASSERT_NE(at, std::string::npos);
      const int t = payload[at - 1] - '0';
      int seq = 0;
      ASSERT_TRUE(absl::SimpleAtoi(payload.substr(at + 1, payload.find('-', at) - at - 1), &seq));
      if (last_seq.count(t)) {
        EXPECT_GT(seq, last_seq[t]);
      }
      last_seq[t] = seq;
    }
  }
}

TEST_F(RocksLogStoreTest, ReadFromMidBatchReturnsTheContainingBatch) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  AppendN(kP0, 5);  // 0..4
  AppendN(kP0, 5);  // 5..9
  AppendN(kP0, 5);  // 10..14
  ReadOptions ro;
  ro.start_offset = 7;
  auto read = store_->Read(kP0, ro);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->batches.size(), 2u);
  EXPECT_EQ(read->batches[0].header.base_offset, 5);
  EXPECT_EQ(read->batches[1].header.base_offset, 10);
}

TEST_F(RocksLogStoreTest, ReadStopsAtMaxBytesAndMaxOffsetButReturnsOneBatch) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  for (int i = 0; i < 10; ++i) AppendN(kP0, 2);  // bases 0,2,...,18
  ReadOptions ro;
  ro.max_bytes = 1;  // smaller than any batch: still one batch
  auto read = store_->Read(kP0, ro);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->batches.size(), 1u);

  const auto one = static_cast<int64_t>(read->batches[0].stored.size());
  ro.max_bytes = one * 3;
  read = store_->Read(kP0, ro);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->batches.size(), 3u);

  ro.max_bytes = 1 << 20;
  ro.start_offset = 3;
  ro.max_offset = 8;  // bases 2, 4, 6 are < 8
  read = store_->Read(kP0, ro);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->batches.size(), 3u);
  EXPECT_EQ(read->batches.front().header.base_offset, 2);
  EXPECT_EQ(read->batches.back().header.base_offset, 6);

  ro.start_offset = 9;
  ro.max_offset = 8;  // the batch holding 9 starts at 8: past the bound
  read = store_->Read(kP0, ro);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->batches.empty());
}

TEST_F(RocksLogStoreTest, ReadOutsideTheLogIsOutOfRangeNamingBothBounds) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  AppendN(kP0, 4);
  ReadOptions ro;
  ro.start_offset = 5;
  auto read = store_->Read(kP0, ro);
  ASSERT_EQ(read.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(read.status().message(), HasSubstr("log start 0"));
  EXPECT_THAT(read.status().message(), HasSubstr("log end 4"));
  ro.start_offset = 4;  // exactly log end: empty, not an error
  read = store_->Read(kP0, ro);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->batches.empty());
  EXPECT_EQ(store_->Read({99, 0}, ReadOptions{}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RocksLogStoreTest, OffsetForTimestampFindsFirstRecordAtOrAfterEvenIfNotMonotonic) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  // offsets:    0     1     2   |  3    4   |  5     6
  MustAppend(MakeRequest(kP0, {100, 300, 200}, "a"));
  MustAppend(MakeRequest(kP0, {150, 250}, "b"));
  MustAppend(MakeRequest(kP0, {500, 400}, "c"));
  auto at = [&](int64_t ts) { return *store_->OffsetForTimestamp(kP0, ts); };
  EXPECT_EQ(at(0), 0);
  EXPECT_EQ(at(100), 0);
  EXPECT_EQ(at(101), 1);
  EXPECT_EQ(at(300), 1);
  EXPECT_EQ(at(301), 5);
  EXPECT_EQ(at(450), 5);
  EXPECT_EQ(at(501), 7);  // none: log end
}

TEST_F(RocksLogStoreTest, OffsetForTimestampUsesAppendTimeForRecordsWithout) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  AppendN(kP0, 3);
  clock_.AdvanceMs(1000);
  AppendN(kP0, 2);
  EXPECT_EQ(*store_->OffsetForTimestamp(kP0, clock_.NowMs() - 1), 3);
  EXPECT_EQ(*store_->OffsetForTimestamp(kP0, clock_.NowMs() - 1000), 0);
}

TEST_F(RocksLogStoreTest, ReopenKeepsBatchesAndRebuildsStats) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  ASSERT_TRUE(store_->CreatePartition({7, 1}).ok());
  for (int i = 0; i < 10; ++i) AppendN(kP0, 3);
  auto before = store_->Read(kP0, ReadOptions{});
  auto stats_before = *store_->Stats(kP0);
  Reopen();
  EXPECT_EQ(store_->ListPartitions().size(), 2u);
  auto stats_after = store_->Stats(kP0);
  ASSERT_TRUE(stats_after.ok());
  EXPECT_EQ(stats_after->log_end_offset, 30);
  EXPECT_EQ(stats_after->batch_count, 10);
  EXPECT_EQ(stats_after->size_bytes, stats_before.size_bytes);
  EXPECT_EQ(store_->Stats({7, 1})->log_end_offset, 0);
  auto after = store_->Read(kP0, ReadOptions{});
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->batches.size(), before->batches.size());
  for (size_t i = 0; i < after->batches.size(); ++i) {
    EXPECT_EQ(after->batches[i].stored, before->batches[i].stored);
  }
  EXPECT_EQ(AppendN(kP0, 1), 30);  // offsets continue
}

TEST_F(RocksLogStoreTest, TruncateSuffixDropsTailAndAppendsContinueThere) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  MustAppend(MakeRequest(kP0, {100, 100}, "a"));  // 0,1
  MustAppend(MakeRequest(kP0, {500}, "b"));       // 2
  MustAppend(MakeRequest(kP0, {900, 900}, "c"));  // 3,4
  EXPECT_EQ(store_->TruncateSuffix(kP0, 4).code(),
            absl::StatusCode::kInvalidArgument);     // mid-batch
  EXPECT_TRUE(store_->TruncateSuffix(kP0, 5).ok());  // log end: no-op
  EXPECT_EQ(store_->TruncateSuffix(kP0, 1).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->TruncateSuffix(kP0, 2).ok());
  auto stats = *store_->Stats(kP0);
  EXPECT_EQ(stats.log_end_offset, 2);
  EXPECT_EQ(stats.batch_count, 1);
  EXPECT_EQ(*store_->OffsetForTimestamp(kP0, 400), 2);  // the 500 batch is gone
  AppendRequest replicated = MakeRequest(kP0, {300}, "d");
  replicated.expected_base_offset = 2;
  replicated.header.leader_epoch = 4;
  replicated.header.append_time_ms = 12345;
  auto r = AppendAndWait(*store_, replicated);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->base_offset, 2);
  EXPECT_EQ(r->append_time_ms, 12345);  // a replica keeps the leader's time
  EXPECT_EQ(*store_->OffsetForTimestamp(kP0, 250), 2);
  Reopen();
  auto read = store_->Read(kP0, ReadOptions{});
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->batches.size(), 2u);
  EXPECT_EQ(read->batches[1].header.leader_epoch, 4);
  EXPECT_EQ(read->log_end_offset, 3);
}

TEST_F(RocksLogStoreTest, TruncateTwiceInARowSeesDoesNotGoBelowExisting) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  AppendN(kP0, 2);
  ASSERT_TRUE(store_->TruncateSuffix(kP0, 0).ok());
  EXPECT_EQ(store_->Stats(kP0)->batch_count, 0);
  EXPECT_EQ(store_->Stats(kP0)->size_bytes, 0);
  EXPECT_EQ(AppendN(kP0, 1), 0);
}

TEST_F(RocksLogStoreTest, ExpectedBaseOffsetMismatchFailsWithoutWriting) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  AppendN(kP0, 2);
  AppendRequest req = MakeRequest(kP0, {0}, "x");
  req.expected_base_offset = 5;
  EXPECT_EQ(AppendAndWait(*store_, req).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Stats(kP0)->log_end_offset, 2);
}

TEST_F(RocksLogStoreTest, MetadataWritesAreAtomicAndScannableByPrefix) {
  ASSERT_TRUE(store_->WriteMetadata({{"topic/a", "1"}, {"topic/b", "2"}, {"offs/g", "9"}}).ok());
  ASSERT_TRUE(store_->WriteMetadata({{"topic/a", std::nullopt}, {"topic/c", "3"}}).ok());
  EXPECT_FALSE(store_->GetMetadata("topic/a")->has_value());
  EXPECT_EQ(**store_->GetMetadata("offs/g"), "9");
  Reopen();
  auto scan = store_->ScanMetadata("topic/");
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->size(), 2u);
  EXPECT_EQ((*scan)[0], (std::pair<std::string, std::string>{"topic/b", "2"}));
  EXPECT_EQ((*scan)[1], (std::pair<std::string, std::string>{"topic/c", "3"}));
  EXPECT_EQ(store_->ScanMetadata("")->size(), 3u);
}

TEST_F(RocksLogStoreTest, ConcurrentSyncAppendsShareFsyncs) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  constexpr int kAppends = 200;
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, failed = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kAppends / 4; ++i) {
        store_->Append(MakeRequest(kP0, {0}, "s", /*sync=*/true),
                       [&](absl::StatusOr<AppendResult> r) {
                         std::lock_guard<std::mutex> lock(mu);
                         if (!r.ok()) ++failed;
                         ++done;
                         cv.notify_all();
                       });
      }
    });
  }
  for (auto& th : threads) th.join();
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done == kAppends; });
  EXPECT_EQ(failed, 0);
  const double syncs = EngineStat(*store_, "synced_group_commits_total");
  EXPECT_GE(syncs, 1);
  EXPECT_LT(syncs, kAppends / 4) << "group commit should share fsyncs";
  EXPECT_EQ(EngineStat(*store_, "batches_appended_total"), kAppends);
  EXPECT_GT(EngineStat(*store_, "average_group_batches"), 4);
  EXPECT_EQ(store_->Stats(kP0)->log_end_offset, kAppends);
}

TEST_F(RocksLogStoreTest, FullQueueFailsFastWithResourceExhausted) {
  store_.reset();
  RocksLogStoreOptions options;
  options.path = dir_.Sub("small");
  options.clock = &clock_;
  options.max_queued_bytes = 4096;
  auto opened = OpenRocksLogStore(options);
  ASSERT_TRUE(opened.ok());
  store_ = std::move(*opened);
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  // The first callback holds the writer thread until released, so the
  // following appends pile up in the queue.
  std::promise<void> release, writer_blocked;
  store_->Append(MakeRequest(kP0, {0}, "block"), [&](absl::StatusOr<AppendResult>) {
    writer_blocked.set_value();
    release.get_future().wait();
  });
  writer_blocked.get_future().wait();
  absl::Status last;
  std::atomic<int> completed{0};
  int queued = 0;
  for (int i = 0; i < 100 && last.ok(); ++i) {
    AppendRequest req = MakeRequest(kP0, {0}, std::string(500, 'x'));
    store_->Append(std::move(req), [&](absl::StatusOr<AppendResult> r) {
      if (!r.ok()) last = r.status();
      completed++;
    });
    if (last.ok()) ++queued;
  }
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_GT(queued, 1);
  EXPECT_LT(queued, 100);
  release.set_value();
  store_->Close();  // drains the queue: every callback has run
  EXPECT_EQ(completed.load(), queued + 1);
}

TEST_F(RocksLogStoreTest, CloseDrainsQueuedAppendsThenRejects) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  std::atomic<int> ok{0};
  for (int i = 0; i < 50; ++i) {
    store_->Append(MakeRequest(kP0, {0}, "c"), [&](absl::StatusOr<AppendResult> r) {
      if (r.ok()) ok++;
    });
  }
  store_->Close();
  EXPECT_EQ(ok.load(), 50);
  EXPECT_EQ(AppendAndWait(*store_, MakeRequest(kP0, {0}, "late")).status().code(),
            absl::StatusCode::kUnavailable);
  store_->Close();  // idempotent
}

TEST_F(RocksLogStoreTest, AppendListenerSeesNewLogEnd) {
  std::mutex mu;
  std::vector<int64_t> ends;
  store_->SetAppendListener([&](PartitionKey key, int64_t end) {
    std::lock_guard<std::mutex> lock(mu);
    if (key == kP0) ends.push_back(end);
  });
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  AppendN(kP0, 2);
  AppendN(kP0, 3);
  store_->Close();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(ends.empty());
  EXPECT_EQ(ends.back(), 5);
}

TEST_F(RocksLogStoreTest, DeletePartitionRemovesItsData) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  ASSERT_TRUE(store_->CreatePartition({7, 1}).ok());
  AppendN(kP0, 3);
  AppendN({7, 1}, 2);
  ASSERT_TRUE(store_->DeletePartition(kP0).ok());
  EXPECT_EQ(store_->DeletePartition(kP0).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Stats(kP0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AppendAndWait(*store_, MakeRequest(kP0, {0}, "x")).status().code(),
            absl::StatusCode::kNotFound);
  Reopen();
  EXPECT_EQ(store_->ListPartitions(), (std::vector<PartitionKey>{PartitionKey{7, 1}}));
  // A partition created again under the same key starts empty.
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  auto read = store_->Read(kP0, ReadOptions{});
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->batches.empty());
  EXPECT_EQ(store_->Stats({7, 1})->log_end_offset, 2);
}

TEST_F(RocksLogStoreTest, EngineStatsHaveStableNames) {
  auto stats = store_->EngineStats();
  std::map<std::string, double> by_name(stats.begin(), stats.end());
  for (const char* name :
       {"live_data_size_bytes", "memtable_bytes", "pending_compaction_bytes", "running_compactions",
        "running_flushes", "block_cache_usage_bytes", "synced_group_commits_total",
        "group_commits_total", "average_group_batches"}) {
    EXPECT_TRUE(by_name.count(name)) << name;
  }
}

}  // namespace
}  // namespace herald::storage

namespace herald::storage {
namespace {

TEST_F(RocksLogStoreTest, SummariesMatchTheBatchesWithoutReadingThem) {
  ASSERT_TRUE(store_->CreatePartition(kP0).ok());
  MustAppend(MakeRequest(kP0, {100, 300, 200}, "a"));
  MustAppend(MakeRequest(kP0, {150}, "b"));
  MustAppend(MakeRequest(kP0, {500, 400}, "c"));
  ReadOptions all;
  all.max_bytes = 1 << 30;
  auto read = store_->Read(kP0, all);
  ASSERT_TRUE(read.ok()) << read.status();
  auto summaries = store_->ReadSummaries(kP0, 0, 100);
  ASSERT_TRUE(summaries.ok()) << summaries.status();
  ASSERT_EQ(summaries->size(), read->batches.size());
  for (size_t i = 0; i < read->batches.size(); ++i) {
    const BatchHeader& h = read->batches[i].header;
    const BatchSummary& s = (*summaries)[i];
    EXPECT_EQ(s.base_offset, h.base_offset);
    EXPECT_EQ(s.record_count, h.record_count);
    EXPECT_EQ(s.stored_bytes, static_cast<int64_t>(read->batches[i].stored.size()));
    EXPECT_EQ(s.max_timestamp_ms, h.max_timestamp_ms);
    EXPECT_EQ(s.leader_epoch, h.leader_epoch);
  }
  // From a later boundary, bounded by max_batches; out of range like Read.
  auto tail = store_->ReadSummaries(kP0, 3, 1);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 1u);
  EXPECT_EQ((*tail)[0].base_offset, 3);
  EXPECT_TRUE(store_->ReadSummaries(kP0, 6, 10)->empty());
  EXPECT_EQ(store_->ReadSummaries(kP0, 7, 10).status().code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace herald::storage

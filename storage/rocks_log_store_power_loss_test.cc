// Power loss: the RocksLogStore runs on PowerLossFileSystem; two threads
// append (sync and not), write metadata, truncate and apply retention on their
// own partitions until the power goes at a random disk operation inside
// RocksDB. The store is then destroyed without stopping the load first; its
// orderly close runs after the cut, so it makes nothing durable (see
// power_loss_fs.h). The disk is rewritten to what survives, the store reopens
// and the checker compares it with the model. A result counts as acknowledged
// only if the power was still on when it arrived.
//  * every batch acknowledged with sync=true (or acknowledged before a synced
//    operation of the same thread was issued) is at its acked offset, byte
//    for byte, unless acked retention or truncation removed it (or one whose
//    answer came too late may have);
//  * offsets are dense and the stats match the batches;
//  * no batch is there that was never appended, and none appears twice;
//  * every synced metadata write survives, and no value that was never
//    written appears;
//  * the store keeps working: an append lands at the recovered log end.
// A seed fixes each cycle's choices (operations, sizes, the disk operation
// at which the power goes); thread timing is not seeded, so a failing seed
// reproduces the scenario, not necessarily the exact interleaving.
// HERALD_POWERLOSS_CYCLES runs more cycles, HERALD_POWERLOSS_SEED another seed.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "storage/storage_test_util.h"
#include "storage/testing/power_loss_fs.h"

namespace herald::storage {
namespace {

using ::herald::storage::testing::MakeRequest;
using ::herald::storage::testing::PowerLossFileSystem;
using ::herald::storage::testing::PowerLossMode;
using ::herald::storage::testing::PowerLossOptions;
using ::herald::storage::testing::TempDir;

constexpr uint64_t kTopic = 9;
constexpr int kWorkers = 2;
constexpr int kPartitionsPerWorker = 2;
constexpr int kOpsPerWorker = 300;
constexpr int kMaxInFlight = 8;
constexpr int kMetadataKeys = 3;
// The power goes at a disk operation drawn from [1, kMaxCutOperation]; a
// cycle's load takes a few hundred, so most cuts land mid-load (the rest
// after it, while quiet).
constexpr int64_t kMaxCutOperation = 600;

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::strtoll(v, nullptr, 10);
}

struct Entry {
  std::string payload;
  bool required = false;  // must survive power loss
};

// What one partition may and must hold after power loss.
struct PartitionModel {
  std::map<int64_t, Entry> acked;  // live batches the store acknowledged
  std::set<std::string> unknown;   // appended without an OK ack: may or may not be there
  int64_t start = 0;               // log start after the last acked retention (not synced)
  // A retention call not acked (its answer came after the cut, or it failed)
  // may or may not have moved the start up to here.
  int64_t uncertain_start = 0;
  int64_t uncertain_from = INT64_MAX;  // a failed TruncateSuffix may have removed from here
};

struct MetadataModel {
  int64_t acked = 0;   // last version written with an OK result
  int64_t issued = 0;  // last version attempted
};

struct Unsynced {
  int partition;
  int64_t offset;
};

// One load thread and the model of the partitions it owns. Callbacks run on
// the store's writer thread, so the model is behind mu.
class Worker {
 public:
  // `model_mu` guards `parts` and `meta`, which both workers share (each
  // touches only its own partitions and keys).
  Worker(int id, PowerLossFileSystem* fs, std::mutex* model_mu,
         std::map<int, PartitionModel>* parts, std::map<std::string, MetadataModel>* meta)
      : id_(id), fs_(fs), mu_(*model_mu), parts_(parts), meta_(meta) {}

  void Run(LogStore* store, uint64_t seed, int cycle, std::atomic<int64_t>* next_seq);

 private:
  void Append(LogStore* store, int partition, bool sync, int cycle, int64_t seq);
  void WriteMetadata(LogStore* store);
  void Truncate(LogStore* store, int partition);
  void Retention(LogStore* store, int partition);
  void Drain();
  // A synced operation issued now makes every append acked so far durable
  // once it succeeds: take the list at issue, call Promote on success.
  std::vector<Unsynced> TakeUnsynced();
  void PromoteLocked(const std::vector<Unsynced>& list);
  bool Failed() {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }

  // An OK result counts as acknowledged only if the power was still on when
  // it arrived: then the sync behind it happened before the cut.
  bool Acked(bool ok) const { return ok && fs_->power_on(); }

  const int id_;
  PowerLossFileSystem* const fs_;
  std::mutex& mu_;
  std::map<int, PartitionModel>* const parts_;        // guarded by mu_
  std::map<std::string, MetadataModel>* const meta_;  // guarded by mu_
  std::mt19937_64 rng_;
  std::condition_variable cv_;
  int in_flight_ = 0;               // guarded by mu_
  bool failed_ = false;             // guarded by mu_
  std::vector<Unsynced> unsynced_;  // acked sync=false, not yet covered; guarded by mu_
};

std::vector<Unsynced> Worker::TakeUnsynced() {
  std::lock_guard<std::mutex> lock(mu_);
  return unsynced_;
}

void Worker::PromoteLocked(const std::vector<Unsynced>& list) {
  for (const Unsynced& u : list) {
    auto& acked = parts_->at(u.partition).acked;
    if (auto it = acked.find(u.offset); it != acked.end()) it->second.required = true;
  }
}

void Worker::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return in_flight_ == 0; });
}

void Worker::Append(LogStore* store, int partition, bool sync, int cycle, int64_t seq) {
  // Sizes from tiny to ~6 KB, so memtables fill and flush within a cycle.
  const std::string filler(rng_() % 6000, static_cast<char>('a' + seq % 26));
  AppendRequest req = MakeRequest(PartitionKey{kTopic, partition}, {seq + 1},
                                  absl::StrCat("c", cycle, "p", partition, "s", seq, filler), sync);
  std::string payload = req.payload;
  std::vector<Unsynced> covered;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return in_flight_ < kMaxInFlight; });
    ++in_flight_;
    if (sync) covered = unsynced_;
  }
  store->Append(std::move(req), [this, partition, sync, payload = std::move(payload),
                                 covered = std::move(covered)](absl::StatusOr<AppendResult> r) {
    std::lock_guard<std::mutex> lock(mu_);
    PartitionModel& m = parts_->at(partition);
    if (Acked(r.ok())) {
      if (m.acked.count(r->base_offset) != 0) {
        ADD_FAILURE() << "offset " << r->base_offset << " of partition " << partition
                      << " acknowledged twice";
      }
      m.acked[r->base_offset] = Entry{payload, sync};
      if (sync) {
        PromoteLocked(covered);
      } else {
        unsynced_.push_back(Unsynced{partition, r->base_offset});
      }
    } else {
      m.unknown.insert(payload);
      failed_ = true;
    }
    --in_flight_;
    cv_.notify_all();
  });
}

void Worker::WriteMetadata(LogStore* store) {
  const std::string key = absl::StrCat("pl/w", id_, "/k", rng_() % kMetadataKeys);
  int64_t version;
  {
    std::lock_guard<std::mutex> lock(mu_);
    version = ++(*meta_)[key].issued;
  }
  const auto covered = TakeUnsynced();
  const auto s = store->WriteMetadata({{key, absl::StrCat("v", version, "/", key)}});
  std::lock_guard<std::mutex> lock(mu_);
  if (Acked(s.ok())) {
    (*meta_)[key].acked = version;
    PromoteLocked(covered);
  } else {
    failed_ = true;
  }
}

void Worker::Truncate(LogStore* store, int partition) {
  Drain();  // the model then equals the store for this partition
  int64_t to;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const PartitionModel& m = parts_->at(partition);
    std::vector<int64_t> boundaries;
    for (auto it = m.acked.lower_bound(m.start); it != m.acked.end(); ++it)
      boundaries.push_back(it->first);
    if (boundaries.empty()) return;
    // One of the last few batches: truncation is rare and short in practice.
    const size_t back = std::min<size_t>(boundaries.size(), 1 + rng_() % 4);
    to = boundaries[boundaries.size() - back];
  }
  const auto covered = TakeUnsynced();
  const auto s = store->TruncateSuffix(PartitionKey{kTopic, partition}, to);
  std::lock_guard<std::mutex> lock(mu_);
  PartitionModel& m = parts_->at(partition);
  if (Acked(s.ok())) {
    PromoteLocked(covered);
    m.acked.erase(m.acked.lower_bound(to), m.acked.end());
  } else {
    m.uncertain_from = std::min(m.uncertain_from, to);
    failed_ = true;
  }
}

void Worker::Retention(LogStore* store, int partition) {
  RetentionPolicy policy;
  policy.retention_bytes = 100'000 + static_cast<int64_t>(rng_() % 200'000);
  auto start = store->ApplyRetention(PartitionKey{kTopic, partition}, policy, 0);
  std::lock_guard<std::mutex> lock(mu_);
  PartitionModel& m = parts_->at(partition);
  if (Acked(start.ok())) {
    m.start = std::max(m.start, *start);
  } else {
    m.uncertain_start = start.ok() ? std::max(m.uncertain_start, *start) : INT64_MAX;
    failed_ = true;
  }
}

void Worker::Run(LogStore* store, uint64_t seed, int cycle, std::atomic<int64_t>* next_seq) {
  rng_.seed(seed * 1000 + static_cast<uint64_t>(id_));
  for (int op = 0; op < kOpsPerWorker && !Failed() && fs_->power_on(); ++op) {
    const int partition =
        id_ * kPartitionsPerWorker + static_cast<int>(rng_() % kPartitionsPerWorker);
    const uint64_t dice = rng_() % 100;
    if (dice < 80) {
      Append(store, partition, /*sync=*/rng_() % 2 == 0, cycle, next_seq->fetch_add(1));
    } else if (dice < 90) {
      WriteMetadata(store);
    } else if (dice < 94) {
      Truncate(store, partition);
    } else {
      Retention(store, partition);
    }
  }
  Drain();
}

// Owns the disk, the store and the model across cycles.
class PowerLossHarness {
 public:
  PowerLossHarness(PowerLossMode mode, uint64_t seed) : seed_(seed) {
    std::filesystem::create_directories(dir_.Sub("trash"));
    PowerLossOptions options;
    options.mode = mode;
    options.seed = seed;
    options.trash_dir = dir_.Sub("trash");
    fs_ = std::make_shared<PowerLossFileSystem>(rocksdb::FileSystem::Default(), options);
    env_ = rocksdb::NewCompositeEnv(fs_);
  }

  // Creates the store's partitions through an honest disk, so that a lying
  // one (kSyncLies) starts from a durable database.
  void CreateDurably() {
    auto store = Open(rocksdb::Env::Default());
    ASSERT_TRUE(store.ok()) << store.status();
    for (int p = 0; p < kWorkers * kPartitionsPerWorker; ++p) {
      ASSERT_TRUE((*store)->CreatePartition({kTopic, p}).ok());
      parts_[p];
    }
  }

  // One cycle; returns the checker's complaints (empty: all good).
  std::vector<std::string> RunCycle(int cycle);
  PowerLossFileSystem& fs() { return *fs_; }
  // So a run can show it was not vacuous.
  int64_t cuts_under_load() const { return cuts_under_load_; }
  int64_t durable_batches_checked() const { return durable_batches_checked_; }

 private:
  absl::StatusOr<std::unique_ptr<LogStore>> Open(rocksdb::Env* env) {
    RocksLogStoreOptions options;
    options.path = dir_.Sub("db");
    options.write_buffer_bytes = 1 << 20;  // flushes and WAL switches within a cycle
    options.block_cache_bytes = 4 << 20;
    options.rocksdb_env = env;
    return OpenRocksLogStore(options);
  }
  void Load(int cycle, uint64_t cycle_seed);
  void CheckPartition(int p, std::vector<std::string>* problems);
  void CheckMetadata(std::vector<std::string>* problems);
  void CheckStillWorks(std::vector<std::string>* problems);

  const uint64_t seed_;
  TempDir dir_;
  std::shared_ptr<PowerLossFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<LogStore> store_;
  std::mutex model_mu_;  // the workers' model, while they run
  std::map<int, PartitionModel> parts_;
  std::map<std::string, MetadataModel> meta_;
  std::atomic<int64_t> next_seq_{0};
  int64_t cuts_under_load_ = 0;
  int64_t durable_batches_checked_ = 0;
};

void PowerLossHarness::Load(int cycle, uint64_t cycle_seed) {
  std::mt19937_64 rng(cycle_seed);
  fs_->CutPowerAfter(1 + static_cast<int64_t>(rng() % kMaxCutOperation));
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    workers.push_back(std::make_unique<Worker>(w, fs_.get(), &model_mu_, &parts_, &meta_));
    threads.emplace_back([&, w] { workers[w]->Run(store_.get(), cycle_seed, cycle, &next_seq_); });
  }
  for (auto& t : threads) t.join();
  // Pull the plug (if the load outran the armed cut) and drop the store:
  // its destructor's orderly close and flush happen after the cut, so they
  // make nothing durable.
  if (!fs_->power_on()) ++cuts_under_load_;
  fs_->CutPower();
  store_.reset();
}

std::vector<std::string> PowerLossHarness::RunCycle(int cycle) {
  const uint64_t cycle_seed = seed_ * 1'000'003 + static_cast<uint64_t>(cycle);
  std::vector<std::string> problems;
  if (store_ == nullptr) {
    auto store = Open(env_.get());
    if (!store.ok()) return {absl::StrCat("open: ", store.status().ToString())};
    store_ = std::move(*store);
  }
  if (cycle == 0 && parts_.empty()) {
    for (int p = 0; p < kWorkers * kPartitionsPerWorker; ++p) {
      if (!store_->CreatePartition({kTopic, p}).ok()) return {"create partition failed"};
      parts_[p];
    }
  }
  Load(cycle, cycle_seed);
  if (auto s = fs_->SimulatePowerLoss(); !s.ok()) return {s.ToString()};
  auto store = Open(env_.get());
  if (!store.ok()) return {absl::StrCat("reopen after power loss: ", store.status().ToString())};
  store_ = std::move(*store);
  for (const auto& [p, unused] : parts_) CheckPartition(p, &problems);
  CheckMetadata(&problems);
  if (problems.empty()) CheckStillWorks(&problems);
  for (std::string& p : problems) p = absl::StrCat("seed ", seed_, " cycle ", cycle, ": ", p);
  return problems;
}

void PowerLossHarness::CheckPartition(int p, std::vector<std::string>* problems) {
  PartitionModel& m = parts_[p];
  const PartitionKey key{kTopic, p};
  auto stats = store_->Stats(key);
  if (!stats.ok()) {
    problems->push_back(absl::StrCat("partition ", p, ": ", stats.status().ToString()));
    return;
  }
  ReadOptions ro;
  ro.start_offset = stats->log_start_offset;
  ro.max_bytes = 256 << 20;
  auto read = store_->Read(key, ro);
  if (!read.ok()) {
    problems->push_back(absl::StrCat("partition ", p, " read: ", read.status().ToString()));
    return;
  }
  std::map<int64_t, std::string> present;
  std::set<std::string> seen;
  int64_t next = stats->log_start_offset, bytes = 0;
  for (const ReadBatch& b : read->batches) {
    const int64_t o = b.header.base_offset;
    const std::string payload(BatchPayload(b.stored));
    if (o != next) problems->push_back(absl::StrCat("partition ", p, ": gap at ", next));
    next = b.header.next_offset();
    bytes += static_cast<int64_t>(b.stored.size());
    auto it = m.acked.find(o);
    const bool known =
        (it != m.acked.end() && it->second.payload == payload) || m.unknown.count(payload) != 0;
    if (!known)
      problems->push_back(absl::StrCat("partition ", p, ": batch at ", o, " never appended"));
    if (!seen.insert(payload).second) {
      problems->push_back(absl::StrCat("partition ", p, ": batch at ", o, " is a duplicate"));
    }
    present[o] = payload;
  }
  if (next != stats->log_end_offset || bytes != stats->size_bytes ||
      static_cast<int64_t>(read->batches.size()) != stats->batch_count) {
    problems->push_back(absl::StrCat("partition ", p, ": stats disagree with the batches"));
  }
  for (const auto& [o, e] : m.acked) {
    if (!e.required || o < std::max(m.start, m.uncertain_start) || o >= m.uncertain_from) continue;
    ++durable_batches_checked_;
    auto it = present.find(o);
    if (it == present.end() || it->second != e.payload) {
      problems->push_back(absl::StrCat("partition ", p, ": acked durable batch at ", o, " lost",
                                       it == present.end() ? " (absent" : " (replaced", "; log ",
                                       stats->log_start_offset, "..", stats->log_end_offset,
                                       ", model start ", m.start, ")"));
    }
  }
  // What survived is the new baseline: durable now, and nothing else is.
  m = PartitionModel{};
  m.start = stats->log_start_offset;
  for (auto& [o, payload] : present) m.acked[o] = Entry{std::move(payload), true};
}

void PowerLossHarness::CheckMetadata(std::vector<std::string>* problems) {
  for (auto& [key, m] : meta_) {
    auto got = store_->GetMetadata(key);
    if (!got.ok()) {
      problems->push_back(absl::StrCat("metadata ", key, ": ", got.status().ToString()));
      continue;
    }
    int64_t version = 0;
    if (got->has_value()) {
      const std::string& v = **got;
      version = std::strtoll(v.c_str() + 1, nullptr, 10);
      if (v != absl::StrCat("v", version, "/", key)) version = -1;
    }
    if (version < m.acked || version > m.issued) {
      problems->push_back(absl::StrCat("metadata ", key, ": version ", version, " outside [",
                                       m.acked, ", ", m.issued, "]"));
    }
    m.acked = m.issued = version;
  }
}

void PowerLossHarness::CheckStillWorks(std::vector<std::string>* problems) {
  for (auto& [p, m] : parts_) {
    auto stats = store_->Stats({kTopic, p});
    AppendRequest req = MakeRequest({kTopic, p}, {1}, absl::StrCat("after-", next_seq_++), true);
    const std::string payload = req.payload;
    auto r = testing::AppendAndWait(*store_, std::move(req));
    if (!r.ok() || !stats.ok() || r->base_offset != stats->log_end_offset) {
      problems->push_back(absl::StrCat("partition ", p,
                                       ": append after recovery did not land "
                                       "at the log end"));
      continue;
    }
    m.acked[r->base_offset] = Entry{payload, true};
  }
}

uint64_t BaseSeed() { return static_cast<uint64_t>(EnvInt("HERALD_POWERLOSS_SEED", 1)); }

void RunCycles(PowerLossMode mode, int64_t cycles) {
  const uint64_t seed = BaseSeed();
  PowerLossHarness harness(mode, seed);
  for (int c = 0; c < cycles; ++c) {
    const auto problems = harness.RunCycle(c);
    for (const auto& p : problems) ADD_FAILURE() << p;
    ASSERT_TRUE(problems.empty()) << "reproduce with HERALD_POWERLOSS_SEED=" << seed;
  }
  // The cuts really hit a working store: syncs happened and were lost around.
  EXPECT_GT(harness.fs().file_syncs(), cycles);
  EXPECT_GT(harness.fs().dir_syncs(), cycles);
  EXPECT_GE(harness.cuts_under_load() * 4, cycles);  // most cuts hit a busy store
  EXPECT_GT(harness.durable_batches_checked(), cycles * 10);
  std::printf("%ld cycles, %ld cut under load, %ld acked durable batches checked\n",
              static_cast<long>(cycles), static_cast<long>(harness.cuts_under_load()),
              static_cast<long>(harness.durable_batches_checked()));
}

TEST(RocksLogStorePowerLoss, AckedSyncedDataSurvivesDroppedUnsyncedWrites) {
  RunCycles(PowerLossMode::kDropUnsynced, EnvInt("HERALD_POWERLOSS_CYCLES", 20));
}

TEST(RocksLogStorePowerLoss, AckedSyncedDataSurvivesTornWrites) {
  RunCycles(PowerLossMode::kTornWrites, EnvInt("HERALD_POWERLOSS_CYCLES", 10));
}

// The checker can fail: on a disk whose syncs lie, acked data is lost and
// the checker must say so.
TEST(RocksLogStorePowerLoss, CheckerDetectsALyingDisk) {
  PowerLossHarness harness(PowerLossMode::kSyncLies, BaseSeed());
  harness.CreateDurably();
  std::vector<std::string> problems;
  for (int c = 0; c < 5 && problems.empty(); ++c) problems = harness.RunCycle(c);
  ASSERT_FALSE(problems.empty()) << "lost synced data went unnoticed";
  // Detected as lost acked data or metadata, not as a store that fails to open.
  bool lost = false;
  for (const auto& p : problems) {
    lost = lost || p.find(" lost") != std::string::npos || p.find("metadata") != std::string::npos;
  }
  EXPECT_TRUE(lost) << "[" << problems.front() << "] of " << problems.size();
}

}  // namespace
}  // namespace herald::storage

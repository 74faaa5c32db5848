// PartitionRaftLog over both LogStores: the entry <-> batch mapping, writes,
// restart, compaction, snapshot install, and a model check against
// MemoryRaftLog under random operations.
#include "replication/partition_raft_log.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/batch_format.h"
#include "gtest/gtest.h"
#include "replication/raft_log.h"
#include "storage/storage_test_util.h"

namespace herald::replication {
namespace {

using storage::testing::MakePayload;
using storage::testing::TempDir;

constexpr storage::PartitionKey kKey{7, 2};

// A proposal as a leader's broker would build it.
std::string Proposal(int records, int64_t append_time_ms, const std::string& tag) {
  BatchHeader h;
  h.record_count = records;
  h.append_time_ms = append_time_ms;
  h.producer_id = 5;
  h.base_sequence = 10;
  return PartitionRaftLog::ProposalData(
      h, MakePayload(std::vector<int64_t>(static_cast<size_t>(records), 0), tag));
}

Entry Normal(uint64_t term, uint64_t index, int records, int64_t time_ms = 1000) {
  return Entry{term, index, EntryType::kNormal, Proposal(records, time_ms, absl::StrCat(index))};
}

Entry Noop(uint64_t term, uint64_t index) { return Entry{term, index, EntryType::kNoop, ""}; }

// The batch stored for `e` at `offset`: what Entries() must return.
std::string Stored(const Entry& e, int64_t offset) {
  BatchHeader h = *DecodeBatchHeader(e.data);
  h.base_offset = offset;
  h.leader_epoch = static_cast<int64_t>(e.term);
  return EncodeBatch(h, BatchPayload(e.data));
}

// Either store kind, reopenable: RocksDB in a temp dir (closed and opened
// again), or one in-memory store kept across "restarts" of the log.
class Disk {
 public:
  explicit Disk(bool rocks) : rocks_(rocks) { OpenStore(); }
  ~Disk() {
    log_.reset();
    if (store_) store_->Close();
  }
  storage::LogStore& store() { return *store_; }
  PartitionRaftLog& log() { return *log_; }

  absl::Status OpenLog() {
    log_.reset();
    auto log = PartitionRaftLog::Open(store_.get(), kKey);
    if (!log.ok()) return log.status();
    log_ = *std::move(log);
    return absl::OkStatus();
  }
  // Simulates a restart of the process: everything in memory goes.
  absl::Status Restart() {
    log_.reset();
    if (rocks_) {
      store_->Close();
      store_.reset();
      OpenStore();
    }
    return OpenLog();
  }

 private:
  void OpenStore() {
    if (!rocks_) {
      store_ = storage::NewMemoryLogStore();
      return;
    }
    storage::RocksLogStoreOptions options;
    options.path = dir_.Sub("db");
    options.write_buffer_bytes = 4 << 20;
    options.block_cache_bytes = 4 << 20;
    auto store = storage::OpenRocksLogStore(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  const bool rocks_;
  TempDir dir_;
  std::unique_ptr<storage::LogStore> store_;
  std::unique_ptr<PartitionRaftLog> log_;
};

class PartitionRaftLogTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { ASSERT_TRUE(disk_.OpenLog().ok()); }
  PartitionRaftLog& log() { return disk_.log(); }
  storage::LogStore& store() { return disk_.store(); }
  std::vector<storage::ReadBatch> StoredBatches(int64_t from = 0) {
    storage::ReadOptions options;
    options.start_offset = from;
    options.max_bytes = 1 << 30;
    auto read = store().Read(kKey, options);
    EXPECT_TRUE(read.ok()) << read.status();
    return read.ok() ? read->batches : std::vector<storage::ReadBatch>{};
  }

  Disk disk_{GetParam()};
};

INSTANTIATE_TEST_SUITE_P(Stores, PartitionRaftLogTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Rocks" : "Memory"; });

TEST_P(PartitionRaftLogTest, FreshLogIsEmpty) {
  EXPECT_EQ(log().FirstIndex(), 1u);
  EXPECT_EQ(log().LastIndex(), 0u);
  EXPECT_EQ(*log().Term(0), 0u);
  EXPECT_EQ(log().Term(1).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log().InitialHardState(), HardState{});
  EXPECT_EQ(log().NextOffset(), 0);
}

TEST_P(PartitionRaftLogTest, AppendsOneBatchPerEntryAtDenseOffsets) {
  const std::vector<Entry> entries = {Noop(1, 1), Normal(1, 2, 3), Normal(2, 3, 2)};
  ASSERT_TRUE(log().Append(entries).ok());
  EXPECT_EQ(log().LastIndex(), 3u);
  EXPECT_EQ(*log().Term(1), 1u);
  EXPECT_EQ(*log().Term(3), 2u);
  EXPECT_EQ(log().Term(4).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(*log().EndOffset(0), 0);
  EXPECT_EQ(*log().EndOffset(1), 1);  // the no-op takes one offset
  EXPECT_EQ(*log().EndOffset(2), 4);
  EXPECT_EQ(*log().EndOffset(3), 6);
  EXPECT_EQ(log().NextOffset(), 6);

  auto got = log().Entries(1, 4, UINT64_MAX);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0], Noop(1, 1));
  EXPECT_EQ((*got)[1], entries[1]);  // the proposed bytes, position-free
  EXPECT_EQ((*got)[2], entries[2]);

  // The partition holds exactly those batches; the no-op is a control batch.
  const auto batches = StoredBatches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_TRUE(batches[0].header.control);
  EXPECT_EQ(batches[0].header.record_count, 1);
  EXPECT_EQ(batches[0].header.leader_epoch, 1);
  EXPECT_FALSE(batches[1].header.control);
  EXPECT_EQ(batches[1].stored, Stored(entries[1], 1));
  EXPECT_EQ(batches[2].header.leader_epoch, 2);

  // Byte limit: always one entry, then as many as fit.
  EXPECT_EQ(log().Entries(1, 4, 1)->size(), 1u);
  EXPECT_EQ(log().Entries(2, 4, EntryBytes((*got)[1]))->size(), 1u);
  EXPECT_EQ(log().Entries(2, 2, 100)->size(), 0u);
  EXPECT_EQ(log().Entries(2, 5, 100).status().code(), absl::StatusCode::kOutOfRange);
}

TEST_P(PartitionRaftLogTest, ConflictingSuffixIsTruncatedFirst) {
  ASSERT_TRUE(log().Append({Noop(1, 1), Normal(1, 2, 2), Normal(1, 3, 2), Normal(1, 4, 2)}).ok());
  const std::vector<Entry> replacement = {Normal(2, 3, 5), Noop(2, 4), Noop(2, 5)};
  ASSERT_TRUE(log().Append(replacement).ok());
  EXPECT_EQ(log().LastIndex(), 5u);
  EXPECT_EQ(*log().Term(2), 1u);
  EXPECT_EQ(*log().Term(3), 2u);
  EXPECT_EQ(log().NextOffset(), 3 + 5 + 1 + 1);
  auto got = log().Entries(3, 4, UINT64_MAX);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)[0], replacement[0]);
  const auto batches = StoredBatches();
  ASSERT_EQ(batches.size(), 5u);
  EXPECT_EQ(batches[2].stored, Stored(replacement[0], 3));
  auto stats = store().Stats(kKey);
  EXPECT_EQ(stats->log_end_offset, 10);

  // Holes and appends into the past are refused without side effects.
  EXPECT_EQ(log().Append({Noop(2, 7)}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(log().Append({Noop(2, 0)}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(log().Append({Noop(2, 6), Noop(2, 8)}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(log().LastIndex(), 5u);
  EXPECT_TRUE(log().status().ok());
}

TEST_P(PartitionRaftLogTest, MalformedEntriesAreRefusedBeforeAnyWrite) {
  ASSERT_TRUE(log().Append({Noop(1, 1), Normal(1, 2, 1)}).ok());
  BatchHeader control;
  control.control = true;
  control.record_count = 1;
  BatchHeader unraised;  // max timestamp not raised to the append time
  unraised.record_count = 1;
  unraised.append_time_ms = 5;
  const std::vector<std::vector<Entry>> bad = {
      {Entry{2, 2, EntryType::kNormal, "not a batch"}},
      {Entry{2, 2, EntryType::kNormal, EncodeBatch(control, "")}},
      {Entry{2, 2, EntryType::kNoop, "data"}},
      {Noop(2, 2), Noop(1, 3)},                                       // terms go backwards
      {Entry{2, 2, EntryType::kNormal, Stored(Normal(2, 2, 1), 1)}},  // positioned
      {Entry{2, 2, EntryType::kNormal, EncodeBatch(unraised, MakePayload({0}, "u"))}},
  };
  for (const auto& entries : bad) {
    const absl::Status s = log().Append(entries);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_EQ(log().LastIndex(), 2u);
    EXPECT_EQ(*log().Term(2), 1u);
  }
  EXPECT_EQ(StoredBatches().size(), 2u);
}

TEST_P(PartitionRaftLogTest, RestartRestoresEveryObservable) {
  ASSERT_TRUE(log().Append({Noop(1, 1), Normal(1, 2, 3), Normal(1, 3, 1), Noop(3, 4)}).ok());
  ASSERT_TRUE(log().SetHardState({3, 2, 3}).ok());
  ASSERT_TRUE(log().Compact(2).ok());
  ASSERT_TRUE(log().Append({Normal(3, 5, 4)}).ok());
  const auto before = *log().Entries(3, 6, UINT64_MAX);
  const int64_t next = log().NextOffset();

  ASSERT_TRUE(disk_.Restart().ok());
  EXPECT_EQ(log().InitialHardState(), (HardState{3, 2, 3}));
  EXPECT_EQ(log().Snapshot().index, 2u);
  EXPECT_EQ(log().Snapshot().term, 1u);
  EXPECT_EQ(log().Snapshot().owner_position, 4u);
  EXPECT_EQ(log().FirstIndex(), 3u);
  EXPECT_EQ(log().LastIndex(), 5u);
  EXPECT_EQ(*log().Term(2), 1u);
  EXPECT_EQ(*log().Term(4), 3u);
  EXPECT_EQ(log().Term(1).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(*log().Entries(3, 6, UINT64_MAX), before);
  EXPECT_EQ(log().NextOffset(), next);
  ASSERT_TRUE(log().Append({Normal(3, 6, 1)}).ok());
  EXPECT_EQ(*log().EndOffset(6), next + 1);
}

TEST_P(PartitionRaftLogTest, CrashBeforeTheHardStateKeepsEntriesAndTheOldHardState) {
  ASSERT_TRUE(log().Append({Noop(1, 1), Normal(1, 2, 1)}).ok());
  ASSERT_TRUE(log().SetHardState({1, 1, 1}).ok());
  // A Ready whose entries were synced but whose hard state never was.
  ASSERT_TRUE(log().Append({Normal(2, 3, 1)}).ok());
  ASSERT_TRUE(disk_.Restart().ok());
  EXPECT_EQ(log().LastIndex(), 3u);
  EXPECT_EQ(log().InitialHardState(), (HardState{1, 1, 1}));
}

TEST_P(PartitionRaftLogTest, CommitPastTheLogIsRefusedAndDataLossOnOpen) {
  ASSERT_TRUE(log().Append({Noop(1, 1)}).ok());
  EXPECT_EQ(log().SetHardState({1, 1, 2}).code(), absl::StatusCode::kInvalidArgument);
  std::string value(24, '\0');
  value[16] = 5;  // commit 5, log ends at 1
  ASSERT_TRUE(store().WriteMetadata({{PartitionRaftLog::HardStateKey(kKey), value}}).ok());
  EXPECT_EQ(disk_.Restart().code(), absl::StatusCode::kDataLoss);
}

TEST_P(PartitionRaftLogTest, CompactionMovesTheLogStartAndTheSnapshotTogether) {
  ASSERT_TRUE(log().Append({Noop(1, 1), Normal(1, 2, 2), Normal(2, 3, 2), Normal(2, 4, 2)}).ok());
  ASSERT_TRUE(log().Compact(2).ok());
  EXPECT_EQ(log().Snapshot().index, 2u);
  EXPECT_EQ(log().Snapshot().term, 1u);
  EXPECT_EQ(log().Snapshot().owner_position, 3u);
  EXPECT_EQ(store().Stats(kKey)->log_start_offset, 3);
  EXPECT_EQ(log().Entries(2, 3, UINT64_MAX).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(log().Entries(3, 5, UINT64_MAX)->size(), 2u);
  EXPECT_TRUE(log().Compact(1).ok());  // already compacted: no-op
  EXPECT_EQ(log().Compact(9).code(), absl::StatusCode::kOutOfRange);

  // Everything compacted: the store keeps its last batch below the snapshot
  // offset; the log is empty and continues at the right offset.
  ASSERT_TRUE(log().Compact(4).ok());
  EXPECT_EQ(log().LastIndex(), 4u);
  EXPECT_EQ(log().FirstIndex(), 5u);
  EXPECT_EQ(*log().Term(4), 2u);
  EXPECT_EQ(store().Stats(kKey)->log_start_offset, 5);
  ASSERT_TRUE(disk_.Restart().ok());
  EXPECT_EQ(log().LastIndex(), 4u);
  EXPECT_EQ(*log().Term(4), 2u);
  EXPECT_EQ(log().NextOffset(), 7);
  ASSERT_TRUE(log().Append({Noop(3, 5)}).ok());
  EXPECT_EQ(*log().EndOffset(5), 8);
  ASSERT_TRUE(log().Compact(5).ok());
  EXPECT_EQ(store().Stats(kKey)->log_start_offset, 7);  // the batch at 5 went
}

TEST_P(PartitionRaftLogTest, RetentionIndexFollowsTheStoresRulesUpToTheCap) {
  // Entries 1..4 written at times 1000, 2000, 3000, 4000.
  std::vector<Entry> entries;
  for (uint64_t i = 1; i <= 4; ++i) entries.push_back(Normal(1, i, 1, 1000 * i));
  ASSERT_TRUE(log().Append(entries).ok());
  storage::RetentionPolicy by_time;
  by_time.retention_ms = 1500;
  EXPECT_EQ(log().RetentionIndex(by_time, 4000, 10), 2u);   // ts < 2500
  EXPECT_EQ(log().RetentionIndex(by_time, 4000, 1), 1u);    // capped (e.g. applied index)
  EXPECT_EQ(log().RetentionIndex(by_time, 99999, 10), 3u);  // never the last entry
  storage::RetentionPolicy by_size;
  const int64_t each = static_cast<int64_t>(StoredBatches()[0].stored.size());
  by_size.retention_bytes = 2 * each;
  EXPECT_EQ(log().RetentionIndex(by_size, 0, 10), 2u);
  ASSERT_TRUE(log().Compact(log().RetentionIndex(by_size, 0, 10)).ok());
  EXPECT_EQ(log().RetentionIndex(by_size, 0, 10), 2u);  // nothing more to drop
  EXPECT_EQ(log().RetentionIndex(storage::RetentionPolicy{}, 0, 10), 2u);
}

TEST_P(PartitionRaftLogTest, RetentionBehindTheRaftLogsBackIsDataLoss) {
  ASSERT_TRUE(log().Append({Noop(1, 1), Noop(1, 2), Noop(1, 3)}).ok());
  storage::RetentionPolicy policy;
  policy.retention_bytes = 0;
  ASSERT_EQ(*store().ApplyRetention(kKey, policy, 0), 2);
  EXPECT_EQ(disk_.Restart().code(), absl::StatusCode::kDataLoss);
}

TEST_P(PartitionRaftLogTest, SnapshotKeepsCommittedDataAndPadsToTheLeadersOffset) {
  ASSERT_TRUE(log().Append({Noop(1, 1), Normal(1, 2, 3), Normal(1, 3, 2), Normal(2, 4, 2)}).ok());
  ASSERT_TRUE(log().SetHardState({2, 1, 2}).ok());  // entries 1, 2 committed: offsets 0..3
  const SnapshotMeta snap{10, 3, 40};
  ASSERT_TRUE(log().ApplySnapshot(snap).ok());
  EXPECT_EQ(log().FirstIndex(), 11u);
  EXPECT_EQ(log().LastIndex(), 10u);
  EXPECT_EQ(*log().Term(10), 3u);
  EXPECT_EQ(log().InitialHardState(), (HardState{2, 1, 10}));
  EXPECT_EQ(log().NextOffset(), 40);
  // Committed batches stay (readable data); the uncommitted ones are gone;
  // one filler control batch covers [4, 40).
  const auto batches = StoredBatches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[1].header.base_offset, 1);
  EXPECT_TRUE(batches[2].header.control);
  EXPECT_EQ(batches[2].header.leader_epoch, 0);
  EXPECT_EQ(batches[2].header.base_offset, 4);
  EXPECT_EQ(batches[2].header.record_count, 36);

  ASSERT_TRUE(log().Append({Normal(3, 11, 2)}).ok());
  EXPECT_EQ(*log().EndOffset(11), 42);
  ASSERT_TRUE(disk_.Restart().ok());
  EXPECT_EQ(log().Snapshot().index, 10u);
  EXPECT_EQ(log().Snapshot().owner_position, 40u);
  EXPECT_EQ(log().LastIndex(), 11u);
  EXPECT_EQ((*log().Entries(11, 12, UINT64_MAX))[0], Normal(3, 11, 2));
  EXPECT_EQ(StoredBatches(40)[0].stored, Stored(Normal(3, 11, 2), 40));

  // A snapshot whose position is below this replica's committed data is not
  // this log's.
  ASSERT_TRUE(log().SetHardState({3, 1, 11}).ok());
  EXPECT_EQ(log().ApplySnapshot({20, 4, 41}).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(PartitionRaftLogTest, SnapshotInstallCutShortIsRolledBackOnOpen) {
  ASSERT_TRUE(log().Append({Noop(1, 1), Normal(1, 2, 3)}).ok());
  // What a crash after the padding but before the metadata leaves behind.
  storage::AppendRequest filler;
  filler.partition = kKey;
  filler.header.control = true;
  filler.header.record_count = 10;
  filler.expected_base_offset = 4;
  ASSERT_TRUE(storage::testing::AppendAndWait(store(), std::move(filler)).ok());
  ASSERT_TRUE(disk_.Restart().ok());
  EXPECT_EQ(log().LastIndex(), 2u);
  EXPECT_EQ(log().NextOffset(), 4);
  EXPECT_EQ(store().Stats(kKey)->log_end_offset, 4);
  EXPECT_EQ(log().Snapshot().index, 0u);
}

TEST_P(PartitionRaftLogTest, PersistHandlesAReadyInOrder) {
  Ready rd;
  rd.entries = {Noop(1, 1), Normal(1, 2, 1)};
  rd.hard_state = HardState{1, 1, 2};  // commit covers this Ready's entries
  ASSERT_TRUE(log().Persist(rd).ok());
  EXPECT_EQ(log().InitialHardState().commit, 2u);
  Ready snap;
  snap.snapshot = SnapshotMeta{5, 2, 10};
  snap.entries = {Noop(2, 6)};
  ASSERT_TRUE(log().Persist(snap).ok());
  EXPECT_EQ(log().LastIndex(), 6u);
  EXPECT_EQ(*log().EndOffset(6), 11);
}

// ---- Model check: the same random operations on MemoryRaftLog. ----

// Drives both logs; the model also tracks the offsets the partition log
// must use, and the memory log holds the bytes the partition must store.
class ModelCheck {
 public:
  ModelCheck(uint32_t seed, Disk* disk) : rng_(seed), disk_(disk) {}

  void Step(int step) {
    SCOPED_TRACE(absl::StrCat("step ", step));
    const int op = Uniform(0, 99);
    if (op < 45) {
      DoAppend();
    } else if (op < 65) {
      DoHardState();
    } else if (op < 80) {
      DoCompact();
    } else if (op < 90) {
      DoSnapshot();
    } else {
      ASSERT_TRUE(disk_->Restart().ok());
    }
    Compare();
  }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  PartitionRaftLog& log() { return disk_->log(); }
  int64_t ModelOffset(uint64_t index) const {  // index in [first, last + 1]
    const uint64_t k = index - model_.FirstIndex();
    return k < base_.size() ? base_[k] : end_;
  }
  uint64_t MaxTerm() const { return *model_.Term(model_.LastIndex()); }

  void DoAppend() {
    // Raft never truncates a committed entry.
    const uint64_t lowest = std::max(model_.FirstIndex(), model_.InitialHardState().commit + 1);
    const uint64_t first = lowest + static_cast<uint64_t>(Uniform(
                                        0, static_cast<int>(model_.LastIndex() + 1 - lowest)));
    uint64_t term = std::max<uint64_t>(*model_.Term(first - 1), 1) + Uniform(0, 1);
    term = std::max(term, MaxTerm());  // a new leader's term is above all seen
    std::vector<Entry> entries;
    int64_t offset = ModelOffset(first);
    base_.resize(first - model_.FirstIndex());
    for (int i = 0, n = Uniform(1, 4); i < n; ++i) {
      const uint64_t index = first + i;
      Entry e = Uniform(0, 3) == 0 ? Noop(term, index)
                                   : Normal(term, index, Uniform(1, 3), 1000 + Uniform(0, 9));
      entries.push_back(e);
      base_.push_back(offset);
      offset += e.type == EntryType::kNoop ? 1 : DecodeBatchHeader(e.data)->record_count;
    }
    end_ = offset;
    ASSERT_TRUE(model_.Append(entries).ok());
    ASSERT_TRUE(log().Append(entries).ok());
  }

  void DoHardState() {
    HardState hs = model_.InitialHardState();
    hs.term = std::max(hs.term, MaxTerm()) + Uniform(0, 1);
    hs.vote = Uniform(0, 3);
    hs.commit = std::max<uint64_t>(
        hs.commit, static_cast<uint64_t>(Uniform(0, static_cast<int>(model_.LastIndex()))));
    model_.SetHardState(hs);
    ASSERT_TRUE(log().SetHardState(hs).ok());
  }

  void DoCompact() {
    const uint64_t index = static_cast<uint64_t>(Uniform(0, static_cast<int>(model_.LastIndex())));
    if (index > model_.Snapshot().index) {
      position_ = ModelOffset(index + 1);
      base_.erase(base_.begin(), base_.begin() + (index - model_.Snapshot().index));
    }
    ASSERT_TRUE(model_.Compact(index).ok());
    ASSERT_TRUE(log().Compact(index).ok());
  }

  void DoSnapshot() {
    const uint64_t last = model_.LastIndex();
    const uint64_t keep_index =
        std::clamp(model_.InitialHardState().commit, model_.Snapshot().index, last);
    SnapshotMeta snap;
    snap.index = model_.Snapshot().index + 1 + Uniform(0, static_cast<int>(last + 3));
    snap.index = std::max(snap.index, keep_index + 1);
    snap.term = MaxTerm() + Uniform(0, 1);
    snap.owner_position = static_cast<uint64_t>(ModelOffset(keep_index + 1) + Uniform(0, 8));
    model_.ApplySnapshot(snap);
    base_.clear();
    position_ = end_ = static_cast<int64_t>(snap.owner_position);
    ASSERT_TRUE(log().ApplySnapshot(snap).ok());
  }

  void Compare() {
    PartitionRaftLog& got = log();
    ASSERT_TRUE(got.status().ok()) << got.status();
    EXPECT_EQ(got.InitialHardState(), model_.InitialHardState());
    EXPECT_EQ(got.Snapshot().index, model_.Snapshot().index);
    EXPECT_EQ(got.Snapshot().term, model_.Snapshot().term);
    EXPECT_EQ(got.Snapshot().owner_position, static_cast<uint64_t>(position_));
    ASSERT_EQ(got.FirstIndex(), model_.FirstIndex());
    ASSERT_EQ(got.LastIndex(), model_.LastIndex());
    EXPECT_EQ(got.NextOffset(), end_);
    const uint64_t lo = model_.FirstIndex() > 1 ? model_.FirstIndex() - 2 : 0;
    for (uint64_t i = lo; i <= model_.LastIndex() + 1; ++i) {
      auto want = model_.Term(i);
      auto have = got.Term(i);
      ASSERT_EQ(have.status().code(), want.status().code()) << "index " << i;
      if (want.ok()) {
        EXPECT_EQ(*have, *want) << "index " << i;
      }
    }
    const uint64_t end = model_.LastIndex() + 1;
    auto all = got.Entries(model_.FirstIndex(), end, UINT64_MAX);
    ASSERT_TRUE(all.ok()) << all.status();
    EXPECT_EQ(*all, *model_.Entries(model_.FirstIndex(), end, UINT64_MAX));
    const uint64_t from =
        model_.FirstIndex() + Uniform(0, static_cast<int>(end - model_.FirstIndex()));
    const uint64_t max_bytes = static_cast<uint64_t>(Uniform(1, 600));
    EXPECT_EQ(*got.Entries(from, end, max_bytes), *model_.Entries(from, end, max_bytes));
    auto stats = disk_->store().Stats(kKey);
    EXPECT_EQ(stats->log_end_offset, end_);
    EXPECT_LE(stats->log_start_offset, position_);
    CompareStoredBatches();
  }

  // The partition holds, from the snapshot position on, exactly the
  // model's entries in stored form at the model's offsets.
  void CompareStoredBatches() {
    storage::ReadOptions options;
    options.start_offset = position_;
    options.max_bytes = 1 << 30;
    auto read = disk_->store().Read(kKey, options);
    ASSERT_TRUE(read.ok()) << read.status();
    const std::vector<Entry>& want = model_.entries();
    ASSERT_EQ(read->batches.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const storage::ReadBatch& b = read->batches[i];
      EXPECT_EQ(b.header.base_offset, base_[i]);
      if (want[i].type == EntryType::kNoop) {
        EXPECT_TRUE(b.header.control);
        EXPECT_EQ(b.header.record_count, 1);
        EXPECT_EQ(static_cast<uint64_t>(b.header.leader_epoch), want[i].term);
      } else {
        EXPECT_EQ(b.stored, Stored(want[i], base_[i]));
      }
    }
  }

  std::mt19937 rng_;
  Disk* disk_;
  MemoryRaftLog model_;
  std::vector<int64_t> base_;  // base offset of model entries, from FirstIndex
  int64_t position_ = 0;       // snapshot position: offset of FirstIndex
  int64_t end_ = 0;            // next offset
};

void RunModelCheck(bool rocks, uint32_t seed, int steps) {
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  Disk disk(rocks);
  ASSERT_TRUE(disk.OpenLog().ok());
  ModelCheck check(seed, &disk);
  for (int step = 0; step < steps && !::testing::Test::HasFatalFailure(); ++step) {
    check.Step(step);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(PartitionRaftLogModel, MatchesMemoryRaftLogInMemory) {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    RunModelCheck(/*rocks=*/false, seed, 80);
    if (HasFailure()) return;
  }
}

TEST(PartitionRaftLogModel, MatchesMemoryRaftLogOverRocksDbWithRestarts) {
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    RunModelCheck(/*rocks=*/true, seed, 50);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace herald::replication

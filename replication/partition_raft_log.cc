#include "replication/partition_raft_log.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/batch_format.h"
#include "common/crc32c.h"

namespace herald::replication {
namespace {

// Bytes of appends queued at once: far below the store's queue bound, so a
// Ready's entries go out as one or a few group commits.
constexpr int64_t kMaxInflightBytes = 8 << 20;
// Batch summaries read per step when the index is rebuilt at open.
constexpr size_t kReadChunkBatches = 4096;
// Bytes per store read when rebuilding the index or serving Entries().
constexpr int64_t kReadChunkBytes = 4 << 20;
// A full store queue (other partitions' producers) is waited out, briefly.
constexpr int kQueueFullRetries = 200;
constexpr auto kQueueFullBackoff = std::chrono::milliseconds(5);

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetU64(const std::string& in, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  }
  return v;
}

std::string EncodeTriple(uint64_t a, uint64_t b, uint64_t c) {
  std::string out;
  PutU64(&out, a);
  PutU64(&out, b);
  PutU64(&out, c);
  return out;
}

// Reads a 24-byte value; false if absent, DATA_LOSS if malformed.
absl::StatusOr<bool> ReadTriple(storage::LogStore* store, const std::string& key, uint64_t* a,
                                uint64_t* b, uint64_t* c) {
  auto value = store->GetMetadata(key);
  if (!value.ok()) return value.status();
  if (!value->has_value()) return false;
  const std::string& v = **value;
  if (v.size() != 24) return absl::DataLossError(absl::StrCat(key, ": ", v.size(), " bytes"));
  *a = GetU64(v, 0);
  *b = GetU64(v, 8);
  *c = GetU64(v, 16);
  return true;
}

// A control batch of `count` offsets at `offset`, synced, with a fixed
// append time (0) so every replica stores the same bytes. Term 0 marks a
// filler (padding before a snapshot's position), which is not an entry.
storage::AppendRequest ControlBatch(storage::PartitionKey key, int64_t offset, uint64_t term,
                                    int32_t count) {
  storage::AppendRequest req;
  req.partition = key;
  req.header.control = true;
  req.header.base_offset = offset;
  req.header.record_count = count;
  req.header.leader_epoch = static_cast<int64_t>(term);
  req.header.payload_crc = Crc32c("");
  req.sync = true;
  req.expected_base_offset = offset;
  return req;
}

// A header as it travels in Entry.data: no position (base_offset and
// leader_epoch 0, assigned by the log) and max_timestamp_ms already raised to
// the append time as the store would, so the stored batch maps back to the
// exact bytes proposed.
BatchHeader PositionFree(BatchHeader h) {
  h.base_offset = 0;
  h.leader_epoch = 0;
  if (h.max_timestamp_ms == 0) h.max_timestamp_ms = h.append_time_ms;
  return h;
}

// The stored form of one entry at `offset` (see the header comment).
absl::StatusOr<storage::AppendRequest> EntryBatch(storage::PartitionKey key, const Entry& e,
                                                  int64_t offset) {
  if (e.type == EntryType::kNoop) {
    if (!e.data.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("no-op entry ", e.index, " carries data"));
    }
    return ControlBatch(key, offset, e.term, 1);
  }
  auto header = DecodeAndVerifyBatch(e.data);
  if (!header.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry ", e.index, " is not a stored batch: ", header.status().message()));
  }
  if (header->control || header->record_count <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry ", e.index, ": a normal entry must be a non-empty data batch"));
  }
  char canonical[kBatchHeaderBytes];
  EncodeBatchHeader(PositionFree(*header), canonical);
  if (absl::string_view(canonical, kBatchHeaderBytes) !=
      absl::string_view(e.data).substr(0, kBatchHeaderBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "entry ", e.index, ": data must be PartitionRaftLog::ProposalData (position-free)"));
  }
  storage::AppendRequest req;
  req.partition = key;
  req.header = *header;
  req.header.base_offset = offset;
  req.header.leader_epoch = static_cast<int64_t>(e.term);
  req.payload = std::string(BatchPayload(e.data));
  req.sync = true;
  req.expected_base_offset = offset;
  return req;
}

// Waits for a set of appends issued back to back; records each one's result.
class AppendWaiter {
 public:
  explicit AppendWaiter(size_t n) : results_(n) {}

  storage::AppendCallback Callback(size_t i) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++pending_;
    }
    return [this, i](const absl::StatusOr<storage::AppendResult>& r) {
      std::lock_guard<std::mutex> lock(mu_);
      results_[i] = r.status();
      if (--pending_ == 0) cv_.notify_all();
    };
  }
  void WaitAll() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return pending_ == 0; });
  }
  // Only after WaitAll.
  const absl::Status& result(size_t i) const { return results_[i]; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t pending_ = 0;
  std::vector<absl::Status> results_;
};

}  // namespace

std::string PartitionRaftLog::ProposalData(BatchHeader header, absl::string_view payload) {
  return EncodeBatch(PositionFree(header), payload);
}

std::string PartitionRaftLog::HardStateKey(storage::PartitionKey key) {
  return absl::StrCat("raft/", key.topic_id, "/", key.partition, "/hard_state");
}

std::string PartitionRaftLog::SnapshotKey(storage::PartitionKey key) {
  return absl::StrCat("raft/", key.topic_id, "/", key.partition, "/snapshot");
}

absl::StatusOr<std::unique_ptr<PartitionRaftLog>> PartitionRaftLog::Open(
    storage::LogStore* store, storage::PartitionKey key) {
  if (auto s = store->CreatePartition(key); !s.ok()) return s;
  std::unique_ptr<PartitionRaftLog> log(new PartitionRaftLog(store, key));
  if (auto s = log->Load(); !s.ok()) return s;
  return log;
}

absl::Status PartitionRaftLog::Load() {
  auto hs = ReadTriple(store_, HardStateKey(key_), &hard_state_.term, &hard_state_.vote,
                       &hard_state_.commit);
  if (!hs.ok()) return hs.status();
  auto snap = ReadTriple(store_, SnapshotKey(key_), &snapshot_.index, &snapshot_.term,
                         &snapshot_.owner_position);
  if (!snap.ok()) return snap.status();
  auto stats = store_->Stats(key_);
  if (!stats.ok()) return stats.status();
  const auto position = static_cast<int64_t>(snapshot_.owner_position);
  if (position < stats->log_start_offset || position > stats->log_end_offset) {
    return absl::DataLossError(
        absl::StrCat("raft log of ", key_.topic_id, "/", key_.partition, ": snapshot offset ",
                     position, " outside the partition [", stats->log_start_offset, ", ",
                     stats->log_end_offset, "] (retention ran outside the Raft log?)"));
  }
  end_offset_ = position;
  if (auto s = RebuildIndex(stats->log_end_offset); !s.ok()) return s;
  if (hard_state_.commit > LastIndex()) {
    return absl::DataLossError(absl::StrCat("hard state commit ", hard_state_.commit,
                                            " is past the last log index ", LastIndex()));
  }
  return absl::OkStatus();
}

// One pass over the batch summaries after the snapshot offset (the store's
// per-batch index: no payload is read, so opening costs O(batches)).
absl::Status PartitionRaftLog::RebuildIndex(int64_t log_end) {
  uint64_t last_term = snapshot_.term;
  while (end_offset_ < log_end) {
    auto batches = store_->ReadSummaries(key_, end_offset_, kReadChunkBatches);
    if (!batches.ok()) return batches.status();
    if (batches->empty()) return absl::DataLossError("partition ends before its log end");
    for (const storage::BatchSummary& b : *batches) {
      if (b.base_offset != end_offset_) {
        return absl::DataLossError(absl::StrCat("no batch starts at offset ", end_offset_));
      }
      if (b.leader_epoch == 0) {
        // Term 0 is only ever a snapshot install's filler (entries have
        // terms >= 1): an install cut short before its metadata was
        // written. The padding goes; the log ends where the install found it.
        if (auto s = store_->TruncateSuffix(key_, b.base_offset); !s.ok()) return s;
        return absl::OkStatus();
      }
      const auto term = static_cast<uint64_t>(b.leader_epoch);
      if (b.leader_epoch < 0 || term < last_term) {
        return absl::DataLossError(absl::StrCat("batch at offset ", b.base_offset, " has term ",
                                                b.leader_epoch, " after term ", last_term));
      }
      last_term = term;
      entries_.push_back({b.base_offset, term, b.max_timestamp_ms, b.stored_bytes});
      retained_bytes_ += b.stored_bytes;
      end_offset_ = b.base_offset + b.record_count;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> PartitionRaftLog::Term(uint64_t index) const {
  if (!failed_.ok()) return failed_;
  if (index == snapshot_.index) return snapshot_.term;
  if (index < snapshot_.index || index > LastIndex()) {
    return absl::OutOfRangeError(absl::StrCat("no entry at index ", index));
  }
  return entries_[index - snapshot_.index - 1].term;
}

absl::StatusOr<int64_t> PartitionRaftLog::EndOffset(uint64_t index) const {
  if (index < snapshot_.index || index > LastIndex()) {
    return absl::OutOfRangeError(absl::StrCat("no entry at index ", index));
  }
  return OffsetOfIndex(index + 1);
}

int64_t PartitionRaftLog::NextOffset() const { return end_offset_; }

int64_t PartitionRaftLog::OffsetOfIndex(uint64_t index) const {
  if (index == LastIndex() + 1) return end_offset_;
  return entries_[index - snapshot_.index - 1].base_offset;
}

absl::StatusOr<std::vector<Entry>> PartitionRaftLog::Entries(uint64_t lo, uint64_t hi,
                                                             uint64_t max_bytes) const {
  if (!failed_.ok()) return failed_;
  if (lo <= snapshot_.index) return absl::OutOfRangeError("entries compacted");
  if (hi > LastIndex() + 1 || lo > hi) return absl::OutOfRangeError("entries past the end");
  std::vector<Entry> out;
  uint64_t bytes = 0;
  uint64_t index = lo;
  while (index < hi) {
    storage::ReadOptions options;
    options.start_offset = OffsetOfIndex(index);
    options.max_offset = OffsetOfIndex(hi);
    options.max_bytes = static_cast<int64_t>(
        std::min<uint64_t>(max_bytes > bytes ? max_bytes - bytes : 1, kReadChunkBytes));
    auto read = store_->Read(key_, options);
    if (!read.ok()) return read.status();
    if (read->batches.empty()) return absl::DataLossError("entries missing from the partition");
    for (storage::ReadBatch& b : read->batches) {
      const EntryMeta& meta = entries_[index - snapshot_.index - 1];
      if (b.header.base_offset != meta.base_offset ||
          static_cast<uint64_t>(b.header.leader_epoch) != meta.term) {
        return absl::DataLossError(absl::StrCat("batch at offset ", b.header.base_offset,
                                                " does not match entry ", index));
      }
      Entry e;
      e.term = meta.term;
      e.index = index;
      e.type = b.header.control ? EntryType::kNoop : EntryType::kNormal;
      if (!b.header.control) {
        // Back to the position-free bytes that were proposed (header only).
        EncodeBatchHeader(PositionFree(b.header), b.stored.data());
        e.data = std::move(b.stored);
      }
      bytes += EntryBytes(e);
      if (!out.empty() && bytes > max_bytes) return out;
      out.push_back(std::move(e));
      if (++index == hi) break;
    }
  }
  return out;
}

absl::Status PartitionRaftLog::Persist(const Ready& ready) {
  if (ready.snapshot) {
    if (auto s = ApplySnapshot(*ready.snapshot); !s.ok()) return s;
  }
  if (auto s = Append(ready.entries); !s.ok()) return s;
  if (ready.hard_state) return SetHardState(*ready.hard_state);
  return absl::OkStatus();
}

struct PartitionRaftLog::PendingAppend {
  std::vector<storage::AppendRequest> requests;
  std::vector<EntryMeta> metas;
  int64_t end_offset = 0;
  std::unique_ptr<AppendWaiter> waiter;  // the first chunk, issued by StartAppend
  size_t issued_end = 0;
};

PartitionRaftLog::PartitionRaftLog(storage::LogStore* store, storage::PartitionKey key)
    : store_(store), key_(key) {}

PartitionRaftLog::~PartitionRaftLog() {
  if (pending_ != nullptr) pending_->waiter->WaitAll();  // its callbacks point at the waiter
}

absl::Status PartitionRaftLog::Append(const std::vector<Entry>& entries) {
  if (auto s = StartAppend(entries); !s.ok()) return s;
  return FinishAppend();
}

absl::Status PartitionRaftLog::StartAppend(const std::vector<Entry>& entries) {
  if (!failed_.ok()) return failed_;
  if (pending_ != nullptr) return absl::InternalError("StartAppend twice without FinishAppend");
  if (entries.empty()) return absl::OkStatus();
  const uint64_t first = entries.front().index;
  if (first <= snapshot_.index || first > LastIndex() + 1) {
    return absl::FailedPreconditionError(absl::StrCat("append at ", first, " outside (",
                                                      snapshot_.index, ", ", LastIndex() + 1, "]"));
  }
  // Validate and lay out everything before touching the disk.
  auto pending = std::make_unique<PendingAppend>();
  pending->requests.reserve(entries.size());
  int64_t offset = OffsetOfIndex(first);
  uint64_t last_term =
      first - 1 == snapshot_.index ? snapshot_.term : entries_[first - snapshot_.index - 2].term;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.index != first + i) return absl::FailedPreconditionError("indexes not dense");
    if (e.term == 0 || e.term < last_term) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry ", e.index, " has term ", e.term, " after term ", last_term));
    }
    last_term = e.term;
    auto req = EntryBatch(key_, e, offset);
    if (!req.ok()) return req.status();
    offset += req->header.record_count;
    pending->requests.push_back(*std::move(req));
  }
  if (first <= LastIndex()) {
    const int64_t cut = OffsetOfIndex(first);
    if (auto s = store_->TruncateSuffix(key_, cut); !s.ok()) return Fail(s);
    while (LastIndex() >= first) {
      retained_bytes_ -= entries_.back().stored_bytes;
      entries_.pop_back();
    }
    end_offset_ = cut;
  }
  pending->metas.reserve(pending->requests.size());
  for (size_t i = 0; i < pending->requests.size(); ++i) {
    const BatchHeader& h = pending->requests[i].header;
    pending->metas.push_back(
        {h.base_offset, entries[i].term, h.max_timestamp_ms,
         static_cast<int64_t>(kBatchHeaderBytes + pending->requests[i].payload.size())});
  }
  pending->end_offset = offset;
  // Issue the first chunk now; FinishAppend waits for it and does the rest.
  pending->waiter = std::make_unique<AppendWaiter>(pending->requests.size());
  int64_t inflight = 0;
  for (size_t i = 0; i < pending->requests.size() && inflight < kMaxInflightBytes; ++i) {
    inflight += static_cast<int64_t>(kBatchHeaderBytes + pending->requests[i].payload.size());
    storage::AppendRequest copy = pending->requests[i];  // kept for a retry
    store_->Append(std::move(copy), pending->waiter->Callback(i));
    pending->issued_end = i + 1;
  }
  pending_ = std::move(pending);
  return absl::OkStatus();
}

absl::Status PartitionRaftLog::FinishAppend() {
  if (pending_ == nullptr) return failed_;
  std::unique_ptr<PendingAppend> pending = std::move(pending_);
  pending->waiter->WaitAll();
  size_t next = 0;
  while (next < pending->issued_end && pending->waiter->result(next).ok()) ++next;
  if (next < pending->issued_end) {
    const absl::Status& error = pending->waiter->result(next);
    if (!absl::IsResourceExhausted(error)) return Fail(error);
    std::this_thread::sleep_for(kQueueFullBackoff);  // retried from the first rejected one
  }
  if (next < pending->requests.size()) {
    std::vector<storage::AppendRequest> rest(
        std::make_move_iterator(pending->requests.begin() + static_cast<std::ptrdiff_t>(next)),
        std::make_move_iterator(pending->requests.end()));
    if (auto s = AppendBatches(std::move(rest)); !s.ok()) return Fail(s);
  }
  for (const EntryMeta& m : pending->metas) {
    entries_.push_back(m);
    retained_bytes_ += m.stored_bytes;
  }
  end_offset_ = pending->end_offset;
  return absl::OkStatus();
}

// Issues the appends back to back (the store's writer commits them in as
// few synced groups as its group size allows), then waits for all. A store
// queue full of other partitions' appends is retried from the first
// rejected request: every later request then failed on its expected offset,
// so nothing after a hole was written.
absl::Status PartitionRaftLog::AppendBatches(std::vector<storage::AppendRequest> requests) {
  size_t next = 0;
  int retries = 0;
  while (next < requests.size()) {
    AppendWaiter waiter(requests.size());
    size_t issued_end = next;
    int64_t inflight = 0;
    for (size_t i = next; i < requests.size() && inflight < kMaxInflightBytes; ++i) {
      inflight += static_cast<int64_t>(kBatchHeaderBytes + requests[i].payload.size());
      storage::AppendRequest copy = requests[i];  // kept for a retry
      store_->Append(std::move(copy), waiter.Callback(i));
      issued_end = i + 1;
    }
    waiter.WaitAll();
    size_t i = next;
    while (i < issued_end && waiter.result(i).ok()) ++i;
    if (i == issued_end) {
      next = issued_end;
      continue;
    }
    if (!absl::IsResourceExhausted(waiter.result(i)) || ++retries > kQueueFullRetries) {
      return waiter.result(i);
    }
    std::this_thread::sleep_for(kQueueFullBackoff);
    next = i;
  }
  return absl::OkStatus();
}

absl::Status PartitionRaftLog::SetHardState(const HardState& hard_state) {
  if (!failed_.ok()) return failed_;
  if (hard_state == hard_state_) return absl::OkStatus();
  if (hard_state.commit > LastIndex()) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit ", hard_state.commit, " past the last index ", LastIndex()));
  }
  // Term and vote must be durable before any message leaves; a commit index
  // need not be (a restarted node learns it again from the leader, and it
  // never points past the synced log: entries are persisted first), so a
  // commit-only change skips the fsync -- most Readies are exactly that.
  const bool commit_only =
      hard_state.term == hard_state_.term && hard_state.vote == hard_state_.vote;
  if (auto s = WriteState(hard_state, std::nullopt, /*sync=*/!commit_only); !s.ok()) return Fail(s);
  hard_state_ = hard_state;
  return absl::OkStatus();
}

absl::Status PartitionRaftLog::WriteState(const std::optional<HardState>& hard_state,
                                          const std::optional<SnapshotMeta>& snapshot, bool sync) {
  std::vector<storage::MetadataWrite> writes;
  if (hard_state) {
    writes.push_back(
        {HardStateKey(key_), EncodeTriple(hard_state->term, hard_state->vote, hard_state->commit)});
  }
  if (snapshot) {
    writes.push_back({SnapshotKey(key_),
                      EncodeTriple(snapshot->index, snapshot->term, snapshot->owner_position)});
  }
  return sync ? store_->WriteMetadata(writes) : store_->WriteMetadataUnsynced(writes);
}

absl::Status PartitionRaftLog::ApplySnapshot(const SnapshotMeta& snapshot) {
  if (!failed_.ok()) return failed_;
  // Committed entries are the leader's too: keep their batches as data.
  const uint64_t keep_index = std::clamp(hard_state_.commit, snapshot_.index, LastIndex());
  const int64_t keep = OffsetOfIndex(keep_index + 1);
  const auto position = static_cast<int64_t>(snapshot.owner_position);
  if (position < keep) {
    return absl::FailedPreconditionError(absl::StrCat(
        "snapshot position ", position, " is below this replica's committed offset ", keep));
  }
  // Order: cut, pad (both synced), then the metadata. A crash in between
  // leaves fillers after the old snapshot offset, which Open removes.
  if (auto s = store_->TruncateSuffix(key_, keep); !s.ok()) return Fail(s);
  entries_.clear();
  retained_bytes_ = 0;
  end_offset_ = keep;
  if (auto s = PadTo(position); !s.ok()) return Fail(s);
  HardState hs = hard_state_;
  hs.commit = std::max(hs.commit, snapshot.index);
  if (auto s = WriteState(hs, snapshot); !s.ok()) return Fail(s);
  hard_state_ = hs;
  snapshot_ = snapshot;
  return absl::OkStatus();
}

absl::Status PartitionRaftLog::PadTo(int64_t offset) {
  std::vector<storage::AppendRequest> fillers;
  int64_t at = end_offset_;
  while (at < offset) {
    const auto count =
        static_cast<int32_t>(std::min<int64_t>(offset - at, std::numeric_limits<int32_t>::max()));
    fillers.push_back(ControlBatch(key_, at, /*term=*/0, count));
    at += count;
  }
  if (auto s = AppendBatches(std::move(fillers)); !s.ok()) return s;
  end_offset_ = offset;
  return absl::OkStatus();
}

absl::Status PartitionRaftLog::Compact(uint64_t index) {
  if (!failed_.ok()) return failed_;
  if (index <= snapshot_.index) return absl::OkStatus();
  if (index > LastIndex()) return absl::OutOfRangeError("compact past the end");
  const SnapshotMeta snapshot{index, entries_[index - snapshot_.index - 1].term,
                              static_cast<uint64_t>(OffsetOfIndex(index + 1))};
  if (auto s = WriteState(std::nullopt, snapshot); !s.ok()) return Fail(s);
  const uint64_t dropped = index - snapshot_.index;
  for (uint64_t i = 0; i < dropped; ++i) {
    retained_bytes_ -= entries_.front().stored_bytes;
    entries_.pop_front();
  }
  snapshot_ = snapshot;
  storage::RetentionPolicy policy;
  policy.truncate_before_offset = static_cast<int64_t>(snapshot.owner_position);
  // The Raft log is already consistent; a failure here only leaves space.
  return store_->ApplyRetention(key_, policy, /*now_ms=*/0).status();
}

uint64_t PartitionRaftLog::RetentionIndex(const storage::RetentionPolicy& policy, int64_t now_ms,
                                          uint64_t max_index) const {
  // The store's rules, over the entries only; never the last entry.
  const uint64_t cap = std::min(max_index, LastIndex() == 0 ? 0 : LastIndex() - 1);
  uint64_t index = snapshot_.index;
  int64_t size = retained_bytes_;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const EntryMeta& e = entries_[i];
    if (index + 1 > cap) break;
    const int64_t next = OffsetOfIndex(index + 2);
    // A no-op carries no time (0: identical on every replica); it is as old
    // as the entry after it, so a new leader's no-op is not dropped at once
    // ahead of fresh data (which made log starts differ between replicas).
    const int64_t ts = e.max_timestamp_ms == 0 && i + 1 < entries_.size()
                           ? entries_[i + 1].max_timestamp_ms
                           : e.max_timestamp_ms;
    const bool too_old = policy.retention_ms >= 0 && ts < now_ms - policy.retention_ms;
    const bool too_big = policy.retention_bytes >= 0 && size > policy.retention_bytes;
    const bool below = next <= policy.truncate_before_offset;
    if (!too_old && !too_big && !below) break;
    size -= e.stored_bytes;
    ++index;
  }
  return index;
}

absl::Status PartitionRaftLog::Fail(absl::Status status) {
  if (failed_.ok()) failed_ = status;
  return status;
}

}  // namespace herald::replication

#pragma once
// PartitionRaftLog: the durable RaftLog of one partition's Raft group, kept
// in the partition log itself (storage::LogStore), so the partition's stored
// batches ARE the Raft entries.
//
// Mapping (see README.md "Partition log as the Raft log"):
//   * one Raft entry = one stored batch; the batch's leader_epoch is the
//     entry's term;
//   * a kNormal entry's data is ProposalData(header, payload): the encoded
//     batch as the proposer built it (append time, producer fields, record
//     count) with NO position: base_offset and leader_epoch are 0. Append
//     stores it at the offset following the previous entry, with
//     leader_epoch = the entry's term; log matching makes both the same on
//     every replica, so every replica stores the same bytes at the same
//     offsets. Entries() gives back exactly the proposed bytes, so an
//     entry's data never depends on where it was read from (the core's
//     unstable copy or the disk);
//   * a kNoop entry is stored as a control batch (BatchHeader::control, one
//     offset, empty payload, append time 0); Entries() gives it back as a
//     kNoop entry with empty data;
//   * a "filler" control batch (leader_epoch 0, never a Raft term) pads the
//     offsets up to an installed snapshot's position; it is not an entry.
//
// Durable state besides the batches, in the store's metadata KV:
//   raft/<topic_id>/<partition>/hard_state = term, vote, commit
//   raft/<topic_id>/<partition>/snapshot   = index, term, offset of entry
//                                            index + 1 (owner_position)
// Batches below the snapshot's offset are outside the Raft log (compacted or
// kept committed data; see ApplySnapshot); the store's log start may lag
// behind it, never pass it.
//
// Every write returns only once it is synced. Not thread-safe: one owner
// thread drives it (as it drives the Raft instance reading it).
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/batch_format.h"
#include "replication/raft_log.h"
#include "replication/types.h"
#include "storage/log_store.h"

namespace herald::replication {

class PartitionRaftLog final : public RaftLog {
 public:
  // Creates the partition if it is missing, reads the hard state and the
  // snapshot, and rebuilds the index from the batch headers after the
  // snapshot's offset: one pass over the retained data (payloads are read,
  // not checksummed). DATA_LOSS if the disk state is inconsistent (the store
  // dropped batches past the snapshot, a batch's term is out of order, or
  // the hard state commit is past the log). A snapshot install cut short by
  // a crash leaves filler batches at the log end; Open removes them.
  static absl::StatusOr<std::unique_ptr<PartitionRaftLog>> Open(storage::LogStore* store,
                                                                storage::PartitionKey key);

  // Entry.data for a proposal of `payload` with `header`: base_offset and
  // leader_epoch cleared, max_timestamp_ms raised to append_time_ms when 0
  // (what the store would do). The proposer sets append_time_ms: replicas
  // keep it. Append refuses data in any other form (INVALID_ARGUMENT).
  static std::string ProposalData(BatchHeader header, absl::string_view payload);

  ~PartitionRaftLog() override;  // waits for an append still in flight

  // Metadata keys of a partition (for deleting them with the partition).
  static std::string HardStateKey(storage::PartitionKey key);
  static std::string SnapshotKey(storage::PartitionKey key);

  // RaftLog.
  HardState InitialHardState() const override { return hard_state_; }
  SnapshotMeta Snapshot() const override { return snapshot_; }
  uint64_t FirstIndex() const override { return snapshot_.index + 1; }
  uint64_t LastIndex() const override { return snapshot_.index + entries_.size(); }
  absl::StatusOr<uint64_t> Term(uint64_t index) const override;
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const override;
  // None: Append refuses config entries (membership changes are not
  // supported on partition logs yet), so restart needs no scan.
  absl::StatusOr<std::vector<Entry>> ConfigEntries() const override { return std::vector<Entry>{}; }

  // Persists a Ready's snapshot, entries and hard state, in that order.
  absl::Status Persist(const Ready& ready);

  // Drops every entry with index >= entries.front().index (TruncateSuffix),
  // then appends all entries as synced appends issued back to back, so the
  // store commits them in one group (one fsync). FAILED_PRECONDITION for a
  // hole or an append into the snapshot; INVALID_ARGUMENT for a kNormal
  // entry whose data is not a valid non-control batch.
  absl::Status Append(const std::vector<Entry>& entries);
  // Append in two phases (the runtime issues several partitions' appends
  // before waiting, so they share the store's group commit): StartAppend
  // validates, truncates a conflicting suffix and issues the appends;
  // FinishAppend waits for them and updates the index. No other method may
  // be called in between (the index is behind the disk until FinishAppend).
  absl::Status StartAppend(const std::vector<Entry>& entries);
  absl::Status FinishAppend();
  absl::Status SetHardState(const HardState& hard_state);

  // Replaces the log by `snapshot` (a follower that cannot catch up from the
  // leader's log). Snapshots are metadata only, so the records they cover
  // are not transferred: the partition keeps its committed batches (those
  // up to the hard state commit), drops the rest, and pads the offsets up to
  // snapshot.owner_position with filler control batches, so later entries
  // land at the leader's offsets. Consumers of this replica see a gap.
  // The commit rises to snapshot.index. FAILED_PRECONDITION if the committed
  // batches already reach past owner_position (it cannot be this log's).
  absl::Status ApplySnapshot(const SnapshotMeta& snapshot);

  // Drops entries <= index: first the snapshot meta moves (synced), then
  // the store removes the batches (not synced: if a crash brings them back
  // they sit below the snapshot offset and the next compaction drops them).
  // OUT_OF_RANGE past the end. The store never removes its last batch, so
  // it may stay below the snapshot offset.
  absl::Status Compact(uint64_t index);

  // The largest index that `policy` (time / size, the store's rules) would
  // drop, capped at max_index (e.g. the applied index); Snapshot().index if
  // nothing. Retention of a Raft partition must go through here and
  // Compact, never LogStore::ApplyRetention directly (that would drop
  // batches the Raft log still holds: Open reports DATA_LOSS).
  uint64_t RetentionIndex(const storage::RetentionPolicy& policy, int64_t now_ms,
                          uint64_t max_index) const;

  // Offset just past entry `index` (index in [Snapshot().index, LastIndex()]),
  // e.g. the high watermark for a commit index. OUT_OF_RANGE otherwise.
  absl::StatusOr<int64_t> EndOffset(uint64_t index) const;
  // Offset the next appended entry gets.
  int64_t NextOffset() const;

  // Non-OK once a write failed: the owner must stop and reopen from disk
  // (an fsync error is never retried).
  absl::Status status() const { return failed_; }

 private:
  // What the index keeps per retained entry (no payloads).
  struct EntryMeta {
    int64_t base_offset = 0;
    uint64_t term = 0;
    int64_t max_timestamp_ms = 0;
    int64_t stored_bytes = 0;
  };

  PartitionRaftLog(storage::LogStore* store, storage::PartitionKey key);

  absl::Status Load();
  absl::Status RebuildIndex(int64_t log_end);
  int64_t OffsetOfIndex(uint64_t index) const;  // index in [FirstIndex, LastIndex + 1]
  absl::Status WriteState(const std::optional<HardState>& hard_state,
                          const std::optional<SnapshotMeta>& snapshot, bool sync = true);
  absl::Status AppendBatches(std::vector<storage::AppendRequest> requests);
  struct PendingAppend;  // between StartAppend and FinishAppend
  std::unique_ptr<PendingAppend> pending_;
  absl::Status PadTo(int64_t offset);
  absl::Status Fail(absl::Status status);

  storage::LogStore* const store_;
  const storage::PartitionKey key_;
  HardState hard_state_;
  SnapshotMeta snapshot_;          // owner_position: offset of entry snapshot_.index + 1
  std::deque<EntryMeta> entries_;  // entries_[i] is entry snapshot_.index + 1 + i
  int64_t retained_bytes_ = 0;     // sum of entries_[i].stored_bytes
  int64_t end_offset_ = 0;         // offset after the last entry (the store's log end)
  absl::Status failed_;
};

}  // namespace herald::replication

#pragma once
// RaftLog: the durable log the Raft core reads from, and MemoryRaftLog, an
// in-memory implementation for tests and the simulator.
//
// The core only reads through this interface. The owner writes to its
// implementation while handling a Ready (see types.h), so everything visible
// here must be exactly what the owner has handed to its disk, in order.
//
// Layout: a compacted prefix described by Snapshot() (index/term, possibly
// 0/0), followed by the dense entries FirstIndex()..LastIndex().
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "replication/types.h"

namespace herald::replication {

class RaftLog {
 public:
  virtual ~RaftLog() = default;

  // The hard state as last persisted (zero for a fresh node).
  virtual HardState InitialHardState() const = 0;
  // The compacted prefix: every entry <= Snapshot().index is gone.
  virtual SnapshotMeta Snapshot() const = 0;
  // Snapshot().index + 1, even when the log holds no entries.
  virtual uint64_t FirstIndex() const = 0;
  // Index of the last entry, or Snapshot().index when there are none.
  virtual uint64_t LastIndex() const = 0;
  // Term of the entry at `index`; Snapshot().index gives Snapshot().term.
  // OUT_OF_RANGE below the snapshot or past LastIndex(); any other error
  // means the disk failed and the core stops (see Raft::status()).
  virtual absl::StatusOr<uint64_t> Term(uint64_t index) const = 0;
  // Entries [lo, hi), at least one when lo < hi, then as many as fit in
  // max_bytes. OUT_OF_RANGE if lo is compacted or hi > LastIndex() + 1.
  virtual absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_bytes) const = 0;
  // The retained kConfChange entries, in index order (read once at restart
  // to find the config in effect). The default scans the whole retained
  // log; a log that keeps an index of them (or never stores any) overrides.
  virtual absl::StatusOr<std::vector<Entry>> ConfigEntries() const;
};

// Approximate in-memory size of an entry, for byte limits.
uint64_t EntryBytes(const Entry& entry);

// A RaftLog in memory, with the write operations an owner performs.
class MemoryRaftLog final : public RaftLog {
 public:
  HardState InitialHardState() const override { return hard_state_; }
  SnapshotMeta Snapshot() const override { return snapshot_; }
  uint64_t FirstIndex() const override { return snapshot_.index + 1; }
  uint64_t LastIndex() const override { return snapshot_.index + entries_.size(); }
  absl::StatusOr<uint64_t> Term(uint64_t index) const override;
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const override;

  void SetHardState(const HardState& hard_state) { hard_state_ = hard_state; }
  // Drops every entry with index >= entries.front().index, then appends.
  // FAILED_PRECONDITION if that would leave a hole or cut into the snapshot.
  absl::Status Append(const std::vector<Entry>& entries);
  // Replaces the whole log by the snapshot (a follower catching up).
  void ApplySnapshot(const SnapshotMeta& snapshot);
  // Drops entries <= index (the owner's state machine covers them) and
  // records the config in effect at index in Snapshot().voters.
  // OUT_OF_RANGE if index is not in the log; DATA_LOSS for a config entry
  // that does not decode.
  absl::Status Compact(uint64_t index);

  // All retained entries (checkers and tests).
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  HardState hard_state_;
  SnapshotMeta snapshot_;
  std::vector<Entry> entries_;  // entries_[i].index == snapshot_.index + 1 + i
};

}  // namespace herald::replication

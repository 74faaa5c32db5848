#pragma once
// LogView: the Raft core's view of its log = the durable RaftLog plus the
// "unstable" tail the owner has not persisted yet, plus the commit and
// applied indexes. Storage entries at or above the unstable offset are stale
// (they are about to be overwritten) and are never read.
//
// It also tracks the membership (conf_change.h): the voters in effect are
// those of the last kConfChange entry in the log, committed or not (the
// dissertation's "use a config as soon as it is in the log"), else those of
// the snapshot, else the bootstrap voters. Truncating a config entry reverts
// to the one before it.
//
// Storage read errors other than OUT_OF_RANGE are sticky: status() turns
// non-OK and the owning Raft stops (a node must not decide from a log it
// cannot read).
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "replication/raft_log.h"
#include "replication/types.h"

namespace herald::replication {

class LogView {
 public:
  // Reads the config entries after the snapshot from `storage` (one pass
  // over the retained log). `bootstrap_voters`: see RaftConfig::voters.
  LogView(const RaftLog* storage, std::vector<NodeId> bootstrap_voters);

  // The voters in effect now (sorted).
  const std::vector<NodeId>& Voters() const;
  bool IsVoter(NodeId id) const;
  // Index of the last config entry in the log (0 if none since the node
  // started or installed a snapshot).
  uint64_t LastConfIndex() const {
    return conf_entries_.empty() ? 0 : conf_entries_.rbegin()->first;
  }
  // The voters in effect at `index` (index >= the snapshot index).
  std::vector<NodeId> VotersAt(uint64_t index) const;

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const { return unstable_offset_ + unstable_.size() - 1; }
  uint64_t LastTerm() const { return Term(LastIndex()); }
  // Last index the owner has persisted (what a leader may count for itself).
  uint64_t StableLastIndex() const { return unstable_offset_ - 1; }
  // Term at index, or 0 when the index is compacted or past the end.
  uint64_t Term(uint64_t index) const;
  bool MatchTerm(uint64_t index, uint64_t term) const;
  // Raft's election restriction: is (last_index, last_term) at least as
  // up to date as this log?
  bool IsUpToDate(uint64_t last_index, uint64_t last_term) const;

  // Follower append: if the entry at prev_index has prev_term, merges
  // entries (truncating a conflicting suffix), advances commit to
  // min(commit, last new index) and returns the last new index.
  std::optional<uint64_t> MaybeAppend(uint64_t prev_index, uint64_t prev_term, uint64_t commit,
                                      const std::vector<Entry>& entries);
  // Appends to the unstable tail, truncating anything at or after
  // entries.front().index. Returns the new last index.
  uint64_t Append(const std::vector<Entry>& entries);
  // Largest index <= index whose term is <= term (fast backtracking).
  uint64_t FindConflictByTerm(uint64_t index, uint64_t term) const;

  void CommitTo(uint64_t index);
  bool MaybeCommit(uint64_t index, uint64_t term);
  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }

  // Entries [lo, hi) within max_bytes (at least one). OUT_OF_RANGE if lo is
  // compacted.
  absl::StatusOr<std::vector<Entry>> Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;
  std::vector<Entry> NextCommittedEntries(uint64_t max_bytes) const;
  void AppliedTo(uint64_t index);

  const std::vector<Entry>& UnstableEntries() const { return unstable_; }
  const std::optional<SnapshotMeta>& UnstableSnapshot() const { return unstable_snapshot_; }
  // The owner persisted entries up to (index, term): drop them from unstable.
  bool StableTo(uint64_t index, uint64_t term);
  void StableSnapTo(uint64_t index);
  // Installs a snapshot: the whole log becomes the snapshot.
  void Restore(const SnapshotMeta& snapshot);
  // The snapshot a leader ships to a lagging follower, its voters filled in.
  SnapshotMeta StorageSnapshot() const;

  const absl::Status& status() const { return status_; }
  void Fail(absl::Status status) const {
    if (status_.ok()) status_ = std::move(status);
  }

 private:
  uint64_t FindConflict(const std::vector<Entry>& entries) const;
  // Records the config entries of `entries` (appended at their indexes).
  void TrackConfig(const std::vector<Entry>& entries);

  const RaftLog* storage_;
  std::optional<SnapshotMeta> unstable_snapshot_;
  std::vector<Entry> unstable_;   // unstable_[i].index == unstable_offset_ + i
  uint64_t unstable_offset_ = 1;  // storage entries >= this are stale
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
  std::vector<NodeId> bootstrap_voters_;
  std::vector<NodeId> base_voters_;                       // in effect at the snapshot index
  std::map<uint64_t, std::vector<NodeId>> conf_entries_;  // index -> voters after it
  mutable absl::Status status_;
};

}  // namespace herald::replication

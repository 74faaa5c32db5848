#include "replication/raft_log.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "replication/conf_change.h"

namespace herald::replication {

absl::StatusOr<std::vector<Entry>> RaftLog::ConfigEntries() const {
  std::vector<Entry> out;
  for (uint64_t lo = FirstIndex(); lo <= LastIndex();) {
    absl::StatusOr<std::vector<Entry>> chunk = Entries(lo, LastIndex() + 1, 1 << 20);
    if (!chunk.ok()) return chunk.status();
    if (chunk->empty()) return absl::DataLossError("empty read of the retained log");
    lo = chunk->back().index + 1;
    for (Entry& e : *chunk) {
      if (e.type == EntryType::kConfChange) out.push_back(std::move(e));
    }
  }
  return out;
}

uint64_t EntryBytes(const Entry& entry) { return entry.data.size() + 24; }

absl::StatusOr<uint64_t> MemoryRaftLog::Term(uint64_t index) const {
  if (index == snapshot_.index) return snapshot_.term;
  if (index < snapshot_.index || index > LastIndex()) {
    return absl::OutOfRangeError(absl::StrCat("no entry at index ", index));
  }
  return entries_[index - snapshot_.index - 1].term;
}

absl::StatusOr<std::vector<Entry>> MemoryRaftLog::Entries(uint64_t lo, uint64_t hi,
                                                          uint64_t max_bytes) const {
  if (lo <= snapshot_.index) return absl::OutOfRangeError("entries compacted");
  if (hi > LastIndex() + 1 || lo > hi) return absl::OutOfRangeError("entries past the end");
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = entries_[i - snapshot_.index - 1];
    bytes += EntryBytes(e);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

absl::Status MemoryRaftLog::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return absl::OkStatus();
  const uint64_t first = entries.front().index;
  if (first <= snapshot_.index || first > LastIndex() + 1) {
    return absl::FailedPreconditionError(absl::StrCat("append at ", first, " outside (",
                                                      snapshot_.index, ", ", LastIndex() + 1, "]"));
  }
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].index != first + i) return absl::FailedPreconditionError("indexes not dense");
  }
  entries_.resize(first - snapshot_.index - 1);
  entries_.insert(entries_.end(), entries.begin(), entries.end());
  return absl::OkStatus();
}

void MemoryRaftLog::ApplySnapshot(const SnapshotMeta& snapshot) {
  snapshot_ = snapshot;
  entries_.clear();
  hard_state_.commit = std::max(hard_state_.commit, snapshot.index);
}

absl::Status MemoryRaftLog::Compact(uint64_t index) {
  if (index <= snapshot_.index) return absl::OkStatus();
  if (index > LastIndex()) return absl::OutOfRangeError("compact past the end");
  const auto end = entries_.begin() + static_cast<std::ptrdiff_t>(index - snapshot_.index);
  // The snapshot records the config in effect at `index` (types.h).
  absl::StatusOr<std::vector<NodeId>> voters =
      LastConfig(std::vector<Entry>(entries_.begin(), end), snapshot_.voters);
  if (!voters.ok()) return voters.status();
  const uint64_t term = entries_[index - snapshot_.index - 1].term;
  entries_.erase(entries_.begin(), end);
  snapshot_.index = index;
  snapshot_.term = term;
  snapshot_.owner_position = 0;
  snapshot_.voters = std::move(*voters);
  return absl::OkStatus();
}

}  // namespace herald::replication

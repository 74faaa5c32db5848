#include "replication/log_view.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "replication/conf_change.h"

namespace herald::replication {

LogView::LogView(const RaftLog* storage, std::vector<NodeId> bootstrap_voters)
    : storage_(storage),
      unstable_offset_(storage->LastIndex() + 1),
      bootstrap_voters_(std::move(bootstrap_voters)) {
  std::sort(bootstrap_voters_.begin(), bootstrap_voters_.end());
  bootstrap_voters_.erase(std::unique(bootstrap_voters_.begin(), bootstrap_voters_.end()),
                          bootstrap_voters_.end());
  const SnapshotMeta snap = storage->Snapshot();
  committed_ = snap.index;
  applied_ = snap.index;
  base_voters_ = snap.voters.empty() ? bootstrap_voters_ : snap.voters;
  // Restart: the config is whatever the retained log says (no separate
  // durable config).
  absl::StatusOr<std::vector<Entry>> config = storage->ConfigEntries();
  if (!config.ok()) {
    Fail(config.status());
    return;
  }
  TrackConfig(*config);
}

void LogView::TrackConfig(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  conf_entries_.erase(conf_entries_.lower_bound(entries.front().index), conf_entries_.end());
  for (const Entry& e : entries) {
    if (e.type != EntryType::kConfChange) continue;
    absl::StatusOr<ConfChangeEntry> cc = DecodeConfChange(e.data);
    if (!cc.ok()) {
      // Raft::Step validates config entries before they reach the log, so
      // this is a corrupt disk or a bug: stop.
      Fail(absl::DataLossError(
          absl::StrCat("config entry ", e.index, " unreadable: ", cc.status().message())));
      return;
    }
    conf_entries_[e.index] = std::move(cc->voters);
  }
}

const std::vector<NodeId>& LogView::Voters() const {
  return conf_entries_.empty() ? base_voters_ : conf_entries_.rbegin()->second;
}

bool LogView::IsVoter(NodeId id) const {
  const std::vector<NodeId>& v = Voters();
  return std::binary_search(v.begin(), v.end(), id);
}

std::vector<NodeId> LogView::VotersAt(uint64_t index) const {
  auto it = conf_entries_.upper_bound(index);
  if (it == conf_entries_.begin()) return base_voters_;
  return std::prev(it)->second;
}

SnapshotMeta LogView::StorageSnapshot() const {
  SnapshotMeta snap = storage_->Snapshot();
  // Explicit voters, so a node that joined with no bootstrap config learns
  // the config from the snapshot alone.
  if (snap.voters.empty()) snap.voters = VotersAt(snap.index);
  return snap;
}

uint64_t LogView::FirstIndex() const {
  if (unstable_snapshot_) return unstable_snapshot_->index + 1;
  return storage_->FirstIndex();
}

uint64_t LogView::Term(uint64_t index) const {
  if (unstable_snapshot_ && index == unstable_snapshot_->index) return unstable_snapshot_->term;
  if (index >= unstable_offset_) {
    if (index - unstable_offset_ >= unstable_.size()) return 0;
    return unstable_[index - unstable_offset_].term;
  }
  if (unstable_snapshot_ || index + 1 < storage_->FirstIndex()) return 0;
  absl::StatusOr<uint64_t> term = storage_->Term(index);
  if (term.ok()) return *term;
  if (!absl::IsOutOfRange(term.status())) Fail(term.status());
  return 0;
}

bool LogView::MatchTerm(uint64_t index, uint64_t term) const {
  if (index > LastIndex() || index + 1 < FirstIndex()) return false;
  return Term(index) == term;
}

bool LogView::IsUpToDate(uint64_t last_index, uint64_t last_term) const {
  const uint64_t my_term = LastTerm();
  return last_term > my_term || (last_term == my_term && last_index >= LastIndex());
}

uint64_t LogView::FindConflict(const std::vector<Entry>& entries) const {
  for (const Entry& e : entries) {
    if (!MatchTerm(e.index, e.term)) return e.index;
  }
  return 0;
}

std::optional<uint64_t> LogView::MaybeAppend(uint64_t prev_index, uint64_t prev_term,
                                             uint64_t commit, const std::vector<Entry>& entries) {
  if (!MatchTerm(prev_index, prev_term)) return std::nullopt;
  const uint64_t last_new = prev_index + entries.size();
  const uint64_t conflict = FindConflict(entries);
  if (conflict != 0) {
    if (conflict <= committed_) {
      // Log Matching says this cannot happen; a leader rewriting committed
      // entries means a safety bug or a corrupt disk. Stop.
      Fail(absl::InternalError(absl::StrCat("append conflicts with committed entry ", conflict)));
      return std::nullopt;
    }
    Append(std::vector<Entry>(entries.begin() + (conflict - prev_index - 1), entries.end()));
  }
  CommitTo(std::min(commit, last_new));
  return last_new;
}

uint64_t LogView::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return LastIndex();
  const uint64_t after = entries.front().index;
  if (after <= committed_) {
    Fail(absl::InternalError(absl::StrCat("truncation at ", after, " below commit ", committed_)));
    return LastIndex();
  }
  TrackConfig(entries);
  if (after <= unstable_offset_) {
    // Replaces stable entries too; the owner truncates them on persist.
    unstable_offset_ = after;
    unstable_ = entries;
  } else {
    unstable_.resize(std::min<uint64_t>(after - unstable_offset_, unstable_.size()));
    unstable_.insert(unstable_.end(), entries.begin(), entries.end());
  }
  return LastIndex();
}

uint64_t LogView::FindConflictByTerm(uint64_t index, uint64_t term) const {
  index = std::min(index, LastIndex());
  const uint64_t floor = FirstIndex() - 1;  // its term is known (snapshot)
  while (index > floor && Term(index) > term) --index;
  return index;
}

void LogView::CommitTo(uint64_t index) {
  if (index <= committed_) return;
  if (index > LastIndex()) {
    Fail(absl::InternalError(absl::StrCat("commit ", index, " past last index ", LastIndex())));
    return;
  }
  committed_ = index;
}

bool LogView::MaybeCommit(uint64_t index, uint64_t term) {
  if (index > committed_ && Term(index) == term) {
    CommitTo(index);
    return true;
  }
  return false;
}

absl::StatusOr<std::vector<Entry>> LogView::Slice(uint64_t lo, uint64_t hi,
                                                  uint64_t max_bytes) const {
  if (lo < FirstIndex()) return absl::OutOfRangeError("compacted");
  hi = std::min(hi, LastIndex() + 1);
  std::vector<Entry> out;
  if (lo >= hi) return out;
  if (lo < unstable_offset_) {
    absl::StatusOr<std::vector<Entry>> stored =
        storage_->Entries(lo, std::min(hi, unstable_offset_), max_bytes);
    if (!stored.ok()) {
      if (!absl::IsOutOfRange(stored.status())) Fail(stored.status());
      return stored.status();
    }
    out = std::move(*stored);
    if (out.size() < std::min(hi, unstable_offset_) - lo) return out;  // byte limit hit
  }
  uint64_t bytes = 0;
  for (const Entry& e : out) bytes += EntryBytes(e);
  for (uint64_t i = std::max(lo, unstable_offset_); i < hi; ++i) {
    const Entry& e = unstable_[i - unstable_offset_];
    bytes += EntryBytes(e);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

std::vector<Entry> LogView::NextCommittedEntries(uint64_t max_bytes) const {
  if (committed_ <= applied_) return {};
  absl::StatusOr<std::vector<Entry>> entries = Slice(applied_ + 1, committed_ + 1, max_bytes);
  if (!entries.ok()) {
    Fail(absl::InternalError(
        absl::StrCat("committed entries unreadable: ", entries.status().message())));
    return {};
  }
  return std::move(*entries);
}

void LogView::AppliedTo(uint64_t index) {
  if (index > applied_ && index <= committed_) applied_ = index;
}

bool LogView::StableTo(uint64_t index, uint64_t term) {
  if (index < unstable_offset_ || index - unstable_offset_ >= unstable_.size()) return false;
  if (unstable_[index - unstable_offset_].term != term) return false;
  unstable_.erase(unstable_.begin(), unstable_.begin() + (index - unstable_offset_ + 1));
  unstable_offset_ = index + 1;
  return true;
}

void LogView::StableSnapTo(uint64_t index) {
  if (unstable_snapshot_ && unstable_snapshot_->index == index) unstable_snapshot_.reset();
}

void LogView::Restore(const SnapshotMeta& snapshot) {
  unstable_snapshot_ = snapshot;
  conf_entries_.clear();
  base_voters_ = snapshot.voters.empty() ? bootstrap_voters_ : snapshot.voters;
  unstable_.clear();
  unstable_offset_ = snapshot.index + 1;
  committed_ = snapshot.index;
  applied_ = std::max(applied_, snapshot.index);
}

}  // namespace herald::replication

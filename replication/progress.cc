#include "replication/progress.h"

#include <algorithm>
#include <functional>

namespace herald::replication {

bool Progress::MaybeUpdate(uint64_t index) {
  bool updated = false;
  if (match_ < index) {
    match_ = index;
    updated = true;
    probe_sent_ = false;
  }
  next_ = std::max(next_, index + 1);
  while (!inflight_.empty() && inflight_.front() <= index) inflight_.pop_front();
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t hint) {
  if (state_ == State::kReplicate) {
    if (rejected <= match_) return false;  // stale rejection
    next_ = match_ + 1;
    return true;
  }
  if (next_ - 1 != rejected) return false;  // not the probe we are waiting for
  next_ = std::max(std::min(rejected, hint + 1), match_ + 1);
  probe_sent_ = false;
  return true;
}

void Progress::SentEntries(uint64_t last_index) {
  if (state_ == State::kReplicate) {
    if (last_index >= next_) {
      next_ = last_index + 1;
      inflight_.push_back(last_index);
    }
  } else if (state_ == State::kProbe) {
    probe_sent_ = true;
  }
}

void Progress::OnHeartbeatResponse() {
  probe_sent_ = false;
  // A lost append must not stall a streaming follower forever.
  if (state_ == State::kReplicate && inflight_.size() >= max_inflight_) inflight_.pop_front();
}

bool Progress::IsPaused() const {
  switch (state_) {
    case State::kProbe:
      return probe_sent_;
    case State::kReplicate:
      return inflight_.size() >= max_inflight_;
    case State::kSnapshot:
      return true;
  }
  return true;
}

void Progress::BecomeProbe() {
  if (state_ == State::kSnapshot) {
    next_ = std::max(match_ + 1, pending_snapshot_ + 1);
  } else {
    next_ = match_ + 1;
  }
  state_ = State::kProbe;
  probe_sent_ = false;
  pending_snapshot_ = 0;
  inflight_.clear();
}

void Progress::BecomeReplicate() {
  state_ = State::kReplicate;
  next_ = match_ + 1;
  probe_sent_ = false;
  inflight_.clear();
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  state_ = State::kSnapshot;
  pending_snapshot_ = snapshot_index;
  probe_sent_ = false;
  inflight_.clear();
}

size_t QuorumSize(size_t voters) { return voters / 2 + 1; }

uint64_t QuorumIndex(std::vector<uint64_t> matches) {
  if (matches.empty()) return 0;
  std::sort(matches.begin(), matches.end(), std::greater<uint64_t>());
  return matches[QuorumSize(matches.size()) - 1];
}

}  // namespace herald::replication

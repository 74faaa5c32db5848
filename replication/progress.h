#pragma once
// Progress: the leader's view of one follower (match/next, flow control) and
// the quorum arithmetic shared by elections and commit.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "replication/types.h"

namespace herald::replication {

class Progress {
 public:
  enum class State {
    kProbe,      // next is a guess: one append in flight until answered
    kReplicate,  // streaming: next advances optimistically, inflight bounded
    kSnapshot,   // waiting for the follower to install a snapshot
  };

  Progress(uint64_t next, size_t max_inflight) : next_(next), max_inflight_(max_inflight) {}

  uint64_t match() const { return match_; }
  uint64_t next() const { return next_; }
  State state() const { return state_; }
  bool recent_active() const { return recent_active_; }
  void set_recent_active(bool active) { recent_active_ = active; }

  // A successful append response up to index. Returns true if match moved.
  bool MaybeUpdate(uint64_t index);
  // A rejected append at `rejected` (the prev index we sent); hint is the
  // follower's guess of its last matching index. False if stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t hint);
  // We sent entries up to last_index.
  void SentEntries(uint64_t last_index);
  // A heartbeat response: the follower is alive, so unblock one probe.
  void OnHeartbeatResponse();
  bool IsPaused() const;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);
  uint64_t pending_snapshot() const { return pending_snapshot_; }

 private:
  uint64_t match_ = 0;
  uint64_t next_ = 1;
  State state_ = State::kProbe;
  bool probe_sent_ = false;
  bool recent_active_ = false;
  uint64_t pending_snapshot_ = 0;
  size_t max_inflight_;
  std::deque<uint64_t> inflight_;  // last index of each append in flight, <= max_inflight_
};

// Number of votes that form a majority of `voters`.
size_t QuorumSize(size_t voters);
// The largest index that a majority of `matches` has reached.
uint64_t QuorumIndex(std::vector<uint64_t> matches);

}  // namespace herald::replication

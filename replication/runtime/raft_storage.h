#pragma once
// RaftStorage: one group's durable Raft state as the runtime writes it.
//
// The runtime (raft_host.h) persists each Ready through this interface
// before it sends the Ready's messages or applies its committed entries
// (see ../README.md "What is durable when"), and the core reads the same
// state back through log(). Every write is durable (synced) when it returns
// OK; any error is fatal for the group: the runtime stops driving it and
// never retries the write.
//
// Threads: called only from the runtime's event-loop thread; log() is read
// by the core on that same thread.
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "replication/raft_log.h"
#include "replication/types.h"

namespace herald::replication {

class RaftStorage {
 public:
  virtual ~RaftStorage() = default;

  // What the core reads: hard state, snapshot metadata and entries exactly as
  // persisted so far.
  virtual const RaftLog& log() const = 0;
  // Drops every stored entry with index >= entries.front().index, then
  // appends `entries` (dense, non-empty).
  virtual absl::Status Append(const std::vector<Entry>& entries) = 0;
  // Append in two phases, so the runtime can issue every group's appends of
  // a loop pass before waiting for any: groups that share a store then share
  // its group commit (one fsync). StartAppend validates and issues;
  // FinishAppend waits and makes the entries visible in log(). Nothing else
  // is called on this storage in between. The default does all the work in
  // StartAppend.
  virtual absl::Status StartAppend(const std::vector<Entry>& entries) {
    started_ = Append(entries);
    return absl::OkStatus();
  }
  virtual absl::Status FinishAppend() {
    absl::Status s = std::move(started_);
    started_ = absl::OkStatus();
    return s;
  }
  virtual absl::Status SetHardState(const HardState& hard_state) = 0;
  // Replaces the whole log by the snapshot's (empty) log.
  virtual absl::Status ApplySnapshot(const SnapshotMeta& snapshot) = 0;
  // Log compaction: drops the entries <= index (index <= the core's applied
  // index; at or below the current snapshot: nothing). Called only through
  // RaftHost::WithStorage, between Readies. UNIMPLEMENTED by default (a
  // storage that never compacts).
  virtual absl::Status Compact(uint64_t index) {
    (void)index;
    return absl::UnimplementedError("this raft storage does not compact");
  }

 private:
  absl::Status started_;  // the default StartAppend's result
};

// Persists the durable part of a Ready in the order types.h requires:
// snapshot, entries, hard state. Stops at the first error.
absl::Status PersistReady(const Ready& ready, RaftStorage* storage);
// The same in two phases (see StartAppend): the snapshot and the start of
// the entries' append, then the rest of the append and the hard state.
absl::Status StartPersistReady(const Ready& ready, RaftStorage* storage);
absl::Status FinishPersistReady(const Ready& ready, RaftStorage* storage);

// RaftStorage over a MemoryRaftLog: nothing survives the process, but the
// object can outlive a RaftHost, which is how tests simulate a node that
// restarts with its disk intact.
class MemoryRaftStorage final : public RaftStorage {
 public:
  const RaftLog& log() const override { return log_; }
  absl::Status Append(const std::vector<Entry>& entries) override { return log_.Append(entries); }
  absl::Status SetHardState(const HardState& hard_state) override {
    log_.SetHardState(hard_state);
    return absl::OkStatus();
  }
  absl::Status ApplySnapshot(const SnapshotMeta& snapshot) override {
    log_.ApplySnapshot(snapshot);
    return absl::OkStatus();
  }
  absl::Status Compact(uint64_t index) override {
    if (index <= log_.Snapshot().index) return absl::OkStatus();
    return log_.Compact(index);
  }

  MemoryRaftLog& memory_log() { return log_; }

 private:
  MemoryRaftLog log_;
};

}  // namespace herald::replication

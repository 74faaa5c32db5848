#pragma once
// SimDisk: one node's simulated disk. Writes land in a volatile view (what
// the running node reads back) and become durable only at Sync(). A crash
// keeps the durable state plus a random prefix of the unsynced write
// batches: the OS may have flushed some of them, and a torn last batch is
// dropped whole because its checksum fails (RocksDB WAL semantics).
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "replication/raft_log.h"
#include "replication/types.h"

namespace herald::replication::sim {

// One Ready's worth of state, written atomically.
struct DiskBatch {
  std::optional<SnapshotMeta> snapshot;
  std::vector<Entry> entries;
  std::optional<HardState> hard_state;
};

class SimDisk final : public RaftLog {
 public:
  HardState InitialHardState() const override { return volatile_.InitialHardState(); }
  SnapshotMeta Snapshot() const override { return volatile_.Snapshot(); }
  uint64_t FirstIndex() const override { return volatile_.FirstIndex(); }
  uint64_t LastIndex() const override { return volatile_.LastIndex(); }
  absl::StatusOr<uint64_t> Term(uint64_t index) const override { return volatile_.Term(index); }
  absl::StatusOr<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const override {
    return volatile_.Entries(lo, hi, max_bytes);
  }

  absl::Status Write(DiskBatch batch);
  void Sync();
  // Power loss: keeps the first `surviving_batches` unsynced batches. With
  // `torn_entries` set, the next batch is torn: its snapshot and its first
  // `*torn_entries` entries survive, its hard state does not (the in-order
  // persistence allowed by types.h Ready, for owners without atomic batches).
  void Crash(size_t surviving_batches, std::optional<size_t> torn_entries = std::nullopt);
  size_t unsynced_batches() const { return unsynced_.size(); }
  // Drops entries <= index from both views (only with nothing unsynced).
  absl::Status Compact(uint64_t index);

  const MemoryRaftLog& durable() const { return durable_; }
  const MemoryRaftLog& written() const { return volatile_; }

 private:
  static absl::Status ApplyBatch(MemoryRaftLog& log, const DiskBatch& batch);

  MemoryRaftLog durable_;
  MemoryRaftLog volatile_;
  std::vector<DiskBatch> unsynced_;
};

}  // namespace herald::replication::sim

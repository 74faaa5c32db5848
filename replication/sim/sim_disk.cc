#include "replication/sim/sim_disk.h"

#include <algorithm>

namespace herald::replication::sim {

absl::Status SimDisk::ApplyBatch(MemoryRaftLog& log, const DiskBatch& batch) {
  if (batch.snapshot) log.ApplySnapshot(*batch.snapshot);
  if (absl::Status s = log.Append(batch.entries); !s.ok()) return s;
  if (batch.hard_state) log.SetHardState(*batch.hard_state);
  return absl::OkStatus();
}

absl::Status SimDisk::Write(DiskBatch batch) {
  if (absl::Status s = ApplyBatch(volatile_, batch); !s.ok()) return s;
  unsynced_.push_back(std::move(batch));
  return absl::OkStatus();
}

void SimDisk::Sync() {
  for (const DiskBatch& b : unsynced_) {
    // Cannot fail: the same batches already applied to the volatile view,
    // which started equal to durable_.
    (void)ApplyBatch(durable_, b);
  }
  unsynced_.clear();
}

void SimDisk::Crash(size_t surviving_batches, std::optional<size_t> torn_entries) {
  surviving_batches = std::min(surviving_batches, unsynced_.size());
  for (size_t i = 0; i < surviving_batches; ++i) (void)ApplyBatch(durable_, unsynced_[i]);
  if (torn_entries && surviving_batches < unsynced_.size()) {
    DiskBatch torn = unsynced_[surviving_batches];
    torn.entries.resize(std::min(*torn_entries, torn.entries.size()));
    torn.hard_state.reset();
    (void)ApplyBatch(durable_, torn);
  }
  unsynced_.clear();
  volatile_ = durable_;
}

absl::Status SimDisk::Compact(uint64_t index) {
  if (!unsynced_.empty()) return absl::FailedPreconditionError("compaction with unsynced writes");
  if (absl::Status s = durable_.Compact(index); !s.ok()) return s;
  return volatile_.Compact(index);
}

}  // namespace herald::replication::sim

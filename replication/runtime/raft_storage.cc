#include "replication/runtime/raft_storage.h"

namespace herald::replication {

absl::Status PersistReady(const Ready& ready, RaftStorage* storage) {
  if (ready.snapshot) {
    absl::Status status = storage->ApplySnapshot(*ready.snapshot);
    if (!status.ok()) return status;
  }
  if (!ready.entries.empty()) {
    absl::Status status = storage->Append(ready.entries);
    if (!status.ok()) return status;
  }
  if (ready.hard_state) return storage->SetHardState(*ready.hard_state);
  return absl::OkStatus();
}

absl::Status StartPersistReady(const Ready& ready, RaftStorage* storage) {
  if (ready.snapshot) {
    absl::Status status = storage->ApplySnapshot(*ready.snapshot);
    if (!status.ok()) return status;
  }
  if (!ready.entries.empty()) return storage->StartAppend(ready.entries);
  return absl::OkStatus();
}

absl::Status FinishPersistReady(const Ready& ready, RaftStorage* storage) {
  if (!ready.entries.empty()) {
    absl::Status status = storage->FinishAppend();
    if (!status.ok()) return status;
  }
  if (ready.hard_state) return storage->SetHardState(*ready.hard_state);
  return absl::OkStatus();
}

}  // namespace herald::replication

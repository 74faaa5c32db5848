#pragma once
// coordination::ProducerStateManager: idempotent-producer bookkeeping.
//
// - Producer ids are allocated from a durable counter in blocks: the store
//   records the end of the current block before any id of it is handed out,
//   so a restart never hands out an id twice.
// - A transactional id maps durably to (producer_id, epoch); each
//   InitProducer for it bumps the epoch, fencing older instances.
// - Per (producer_id, partition) the manager tracks the next expected
//   sequence, the batches in flight, and the last kMaxRecordedBatches
//   appended batches, so a retried batch is answered as a duplicate with its
//   original offset instead of being written twice.
//
// Protocol for the owner (the broker's produce path), per batch:
//   Check()  -> kAppend: the sequence is reserved (pending); append it, then
//               call OnAppended() or OnAppendFailed() exactly once.
//            -> kDuplicate: answer with the recorded offset, do not append.
//            -> error: fail the batch with it.
// A retry of a batch that is still pending (Check said kAppend, no
// OnAppended/OnAppendFailed yet) gets UNAVAILABLE "still being written":
// the client retries and then sees kDuplicate (or kAppend if the first
// attempt failed). This never writes a batch twice and needs no waiting here.
//
// Threads: every method is thread-safe (one mutex). No threads of its own.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/batch_format.h"
#include "storage/log_store.h"

namespace herald::coordination {

struct ProducerStateOptions {
  // Producer ids reserved per metadata write.
  int64_t id_block_size = 1'000;
  // The smallest id handed out (cluster mode: node id << 40, so nodes that
  // allocate independently never collide).
  int64_t first_id = 0;
  // Refuse ids this manager never allocated. Off in cluster mode: a
  // partition leader sees producers that other nodes initialized.
  bool check_allocated = true;
  // (producer, partition) entries kept; the least recently used is
  // forgotten beyond it (its next batch is then accepted at any sequence).
  int64_t max_entries = 100'000;
  std::string metadata_prefix = "producer/";
};

struct ProducerIdentity {
  int64_t producer_id = -1;
  int16_t epoch = 0;
};

struct SequenceCheck {
  enum class Kind { kAppend, kDuplicate };
  Kind kind = Kind::kAppend;
  // kDuplicate: where the original batch was written.
  int64_t base_offset = -1;
  int64_t append_time_ms = -1;
};

class ProducerStateManager {
 public:
  static constexpr size_t kMaxRecordedBatches = 5;

  // Loads the id counter and transactional ids. `store` may be null (ids
  // are then not durable; tests only) and must outlive the result.
  static absl::StatusOr<std::unique_ptr<ProducerStateManager>> Open(
      const ProducerStateOptions& options, storage::LogStore* store);

  // Empty transactional_id: a fresh producer id, epoch 0. Otherwise the
  // id's producer with its epoch bumped (a new id once the epoch would
  // overflow). UNAVAILABLE if the metadata write fails (nothing handed out).
  absl::StatusOr<ProducerIdentity> InitProducer(const std::string& transactional_id)
      ABSL_LOCKS_EXCLUDED(mu_);

  // NOT_FOUND unknown producer id; ABORTED "producer fenced: epoch X <
  // current Y"; OUT_OF_RANGE "out of order sequence: expected N, got M"
  // (a gap, or a new epoch not starting at 0); FAILED_PRECONDITION a
  // sequence older than the recorded batches; UNAVAILABLE a retry of a
  // batch still being written; INVALID_ARGUMENT record_count <= 0 or
  // base_sequence < 0.
  absl::StatusOr<SequenceCheck> Check(int64_t producer_id, int16_t epoch,
                                      const storage::PartitionKey& partition, int32_t base_sequence,
                                      int32_t record_count) ABSL_LOCKS_EXCLUDED(mu_);

  // The batch Check reserved was written at base_offset.
  void OnAppended(int64_t producer_id, int16_t epoch, const storage::PartitionKey& partition,
                  int32_t base_sequence, int32_t record_count, int64_t base_offset,
                  int64_t append_time_ms) ABSL_LOCKS_EXCLUDED(mu_);

  // The batch Check reserved was not written: its sequence (and every later
  // pending one, which the client must resend) is expected again.
  void OnAppendFailed(int64_t producer_id, int16_t epoch, const storage::PartitionKey& partition,
                      int32_t base_sequence, int32_t record_count) ABSL_LOCKS_EXCLUDED(mu_);

  // Rebuilds the partition's state after a restart from the headers of the
  // log tail, oldest first (non-idempotent batches are skipped).
  void Recover(const storage::PartitionKey& partition, const std::vector<BatchHeader>& tail)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The partition was deleted or truncated: forget its state.
  void ForgetPartition(const storage::PartitionKey& partition) ABSL_LOCKS_EXCLUDED(mu_);

  int64_t entry_count() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Batch {
    int32_t base_sequence = 0;
    int32_t record_count = 0;
    int64_t base_offset = -1;
    int64_t append_time_ms = -1;
  };
  struct Entry {
    int16_t epoch = 0;
    // Sequence the next new batch must start at; nullopt: unknown (accept
    // any, e.g. state lost to eviction or retention).
    std::optional<int32_t> next_sequence;
    std::deque<Batch> appended;  // newest last, at most kMaxRecordedBatches
    std::deque<Batch> pending;   // reserved by Check, in sequence order
    uint64_t last_used = 0;
  };
  struct EntryKey {
    int64_t producer_id;
    storage::PartitionKey partition;
    friend bool operator==(const EntryKey& a, const EntryKey& b) {
      return a.producer_id == b.producer_id && a.partition == b.partition;
    }
    template <typename H>
    friend H AbslHashValue(H h, const EntryKey& k) {
      return H::combine(std::move(h), k.producer_id, k.partition);
    }
  };

  ProducerStateManager(const ProducerStateOptions& options, storage::LogStore* store);
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int64_t> AllocateId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Entry& GetEntry(const EntryKey& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictIfFull() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Record(Entry& entry, const Batch& batch);

  const ProducerStateOptions options_;
  storage::LogStore* const store_;
  absl::Mutex mu_;
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t block_end_ ABSL_GUARDED_BY(mu_) = 0;  // durable: ids below it may exist
  // Current epoch of every producer id that has one above 0 (transactional).
  absl::flat_hash_map<int64_t, int16_t> epochs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, ProducerIdentity> transactional_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<EntryKey, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t use_counter_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace herald::coordination

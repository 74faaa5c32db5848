#include "broker/idempotence.h"

#include <algorithm>
#include <vector>

namespace herald::broker {

absl::StatusOr<std::optional<ProduceResult>> ProducerStateGuard::Check(storage::PartitionKey key,
                                                                       const BatchHeader& header) {
  auto check = state_->Check(header.producer_id, header.producer_epoch, key, header.base_sequence,
                             header.record_count);
  if (!check.ok()) return check.status();
  if (check->kind == coordination::SequenceCheck::Kind::kAppend) {
    return std::optional<ProduceResult>();
  }
  ProduceResult r;
  r.partition = key.partition;
  r.base_offset = check->base_offset;
  r.append_time_ms = check->append_time_ms;
  r.record_count = header.record_count;
  r.duplicate = true;
  return std::optional<ProduceResult>(r);
}

void ProducerStateGuard::OnAppended(storage::PartitionKey key, const BatchHeader& header,
                                    const ProduceResult& result) {
  state_->OnAppended(header.producer_id, header.producer_epoch, key, header.base_sequence,
                     header.record_count, result.base_offset, result.append_time_ms);
}

void ProducerStateGuard::OnAppendFailed(storage::PartitionKey key, const BatchHeader& header) {
  state_->OnAppendFailed(header.producer_id, header.producer_epoch, key, header.base_sequence,
                         header.record_count);
}

namespace {

// The headers of the last ~tail_bytes of the partition, oldest first.
absl::StatusOr<std::vector<BatchHeader>> TailHeaders(storage::LogStore* store,
                                                     storage::PartitionKey key,
                                                     int64_t tail_bytes) {
  auto stats = store->Stats(key);
  if (!stats.ok()) return stats.status();
  std::vector<BatchHeader> out;
  if (stats->batch_count == 0 || stats->log_end_offset <= stats->log_start_offset) return out;
  // Offsets are dense but batch sizes vary: start at an offset estimated
  // from the average stored bytes per record, then read forward.
  const int64_t records = stats->log_end_offset - stats->log_start_offset;
  const int64_t bytes_per_record = std::max<int64_t>(1, stats->size_bytes / records);
  const int64_t back = std::min(records, std::max<int64_t>(1, tail_bytes / bytes_per_record));
  int64_t next = stats->log_end_offset - back;
  // Bounded: each read advances `next` by at least one batch.
  while (next < stats->log_end_offset) {
    storage::ReadOptions options;
    options.start_offset = next;
    options.max_bytes = 1 << 20;
    options.verify_checksums = false;  // only headers are used (header CRC still checked)
    auto read = store->Read(key, options);
    if (!read.ok()) return read.status();
    if (read->batches.empty()) break;
    for (const storage::ReadBatch& b : read->batches) out.push_back(b.header);
    next = read->batches.back().header.next_offset();
  }
  return out;
}

}  // namespace

absl::Status RecoverProducerState(storage::LogStore* store,
                                  coordination::ProducerStateManager* state,
                                  const std::vector<storage::PartitionKey>& partitions,
                                  int64_t tail_bytes) {
  for (const storage::PartitionKey& key : partitions) {
    auto headers = TailHeaders(store, key, tail_bytes);
    if (!headers.ok()) return headers.status();
    const bool any = std::any_of(headers->begin(), headers->end(),
                                 [](const BatchHeader& h) { return h.producer_id >= 0; });
    if (any) state->Recover(key, *headers);
  }
  return absl::OkStatus();
}

}  // namespace herald::broker

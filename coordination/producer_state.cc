#include "coordination/producer_state.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace herald::coordination {
namespace {

// Sequences wrap to 0 after INT32_MAX, as in Kafka.
int32_t NextSequence(int32_t base_sequence, int32_t record_count) {
  const int64_t next = static_cast<int64_t>(base_sequence) + record_count;
  return static_cast<int32_t>(next %
                              (static_cast<int64_t>(std::numeric_limits<int32_t>::max()) + 1));
}

bool ParseIdentity(absl::string_view value, ProducerIdentity* out) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(value, ':');
  int32_t epoch = 0;
  if (!absl::SimpleAtoi(parts.first, &out->producer_id) ||
      !absl::SimpleAtoi(parts.second, &epoch) || epoch < 0 ||
      epoch > std::numeric_limits<int16_t>::max()) {
    return false;
  }
  out->epoch = static_cast<int16_t>(epoch);
  return true;
}

absl::Status Fenced(int16_t epoch, int16_t current) {
  return absl::AbortedError(absl::StrCat("producer fenced: epoch ", epoch, " < current ", current));
}

}  // namespace

ProducerStateManager::ProducerStateManager(const ProducerStateOptions& options,
                                           storage::LogStore* store)
    : options_(options), store_(store) {}

absl::StatusOr<std::unique_ptr<ProducerStateManager>> ProducerStateManager::Open(
    const ProducerStateOptions& options, storage::LogStore* store) {
  if (options.id_block_size <= 0 || options.max_entries <= 0) {
    return absl::InvalidArgumentError("id_block_size and max_entries must be positive");
  }
  std::unique_ptr<ProducerStateManager> m(new ProducerStateManager(options, store));
  absl::MutexLock lock(&m->mu_);
  if (absl::Status s = m->Load(); !s.ok()) return s;
  return m;
}

absl::Status ProducerStateManager::Load() {
  if (store_ == nullptr) return absl::OkStatus();
  const std::string block_key = options_.metadata_prefix + "next_id_block";
  auto block = store_->GetMetadata(block_key);
  if (!block.ok()) return block.status();
  if (block->has_value() && !absl::SimpleAtoi(**block, &block_end_)) {
    return absl::DataLossError(absl::StrCat("malformed ", block_key, ": ", **block));
  }
  // Ids below the recorded block end may have been handed out before the
  // restart; new ones start after it.
  next_id_ = std::max(block_end_, options_.first_id);
  const std::string txn_prefix = options_.metadata_prefix + "txn/";
  auto rows = store_->ScanMetadata(txn_prefix);
  if (!rows.ok()) return rows.status();
  for (const auto& [key, value] : *rows) {
    ProducerIdentity id;
    if (!ParseIdentity(value, &id)) {
      return absl::DataLossError(absl::StrCat("malformed ", key, ": ", value));
    }
    transactional_[key.substr(txn_prefix.size())] = id;
    epochs_[id.producer_id] = id.epoch;
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ProducerStateManager::AllocateId() {
  if (next_id_ >= block_end_) {
    const int64_t new_end = next_id_ + options_.id_block_size;
    if (store_ != nullptr) {
      absl::Status s = store_->WriteMetadata(
          {{options_.metadata_prefix + "next_id_block", absl::StrCat(new_end)}});
      if (!s.ok()) {
        return absl::UnavailableError(absl::StrCat("cannot reserve producer ids: ", s.message()));
      }
    }
    block_end_ = new_end;
  }
  return next_id_++;
}

absl::StatusOr<ProducerIdentity> ProducerStateManager::InitProducer(
    const std::string& transactional_id) {
  absl::MutexLock lock(&mu_);
  if (transactional_id.empty()) {
    auto id = AllocateId();
    if (!id.ok()) return id.status();
    return ProducerIdentity{*id, 0};
  }
  ProducerIdentity next;
  auto it = transactional_.find(transactional_id);
  if (it != transactional_.end() && it->second.epoch < std::numeric_limits<int16_t>::max()) {
    next = {it->second.producer_id, static_cast<int16_t>(it->second.epoch + 1)};
  } else {
    // New transactional id, or its epoch would overflow: a fresh producer.
    auto id = AllocateId();
    if (!id.ok()) return id.status();
    next = {*id, 0};
  }
  if (store_ != nullptr) {
    absl::Status s =
        store_->WriteMetadata({{absl::StrCat(options_.metadata_prefix, "txn/", transactional_id),
                                absl::StrCat(next.producer_id, ":", next.epoch)}});
    if (!s.ok()) {
      return absl::UnavailableError(absl::StrCat("cannot record producer epoch: ", s.message()));
    }
  }
  transactional_[transactional_id] = next;
  epochs_[next.producer_id] = next.epoch;
  return next;
}

void ProducerStateManager::EvictIfFull() {
  if (entries_.size() < static_cast<size_t>(options_.max_entries)) return;
  // Forget the least recently used entry with nothing in flight. A linear
  // scan, only when full; the bound matters more than the speed here.
  auto victim = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (!it->second.pending.empty()) continue;
    if (victim == entries_.end() || it->second.last_used < victim->second.last_used) victim = it;
  }
  if (victim != entries_.end()) entries_.erase(victim);
}

ProducerStateManager::Entry& ProducerStateManager::GetEntry(const EntryKey& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    EvictIfFull();
    it = entries_.emplace(key, Entry{}).first;
  }
  it->second.last_used = ++use_counter_;
  return it->second;
}

void ProducerStateManager::Record(Entry& entry, const Batch& batch) {
  entry.appended.push_back(batch);
  while (entry.appended.size() > kMaxRecordedBatches) entry.appended.pop_front();
}

absl::StatusOr<SequenceCheck> ProducerStateManager::Check(int64_t producer_id, int16_t epoch,
                                                          const storage::PartitionKey& partition,
                                                          int32_t base_sequence,
                                                          int32_t record_count) {
  if (record_count <= 0 || base_sequence < 0 || epoch < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("idempotent batch needs base_sequence >= 0, epoch >= 0 and records; got "
                     "sequence ",
                     base_sequence, ", epoch ", epoch, ", ", record_count, " records"));
  }
  absl::MutexLock lock(&mu_);
  if (producer_id < 0 || (options_.check_allocated && producer_id >= block_end_)) {
    return absl::NotFoundError(
        absl::StrCat("unknown producer id ", producer_id, ": call InitProducer"));
  }
  auto known = epochs_.find(producer_id);
  if (known != epochs_.end() && epoch < known->second) return Fenced(epoch, known->second);
  const bool fresh = entries_.find({producer_id, partition}) == entries_.end();
  Entry& entry = GetEntry({producer_id, partition});
  if (fresh) entry.epoch = epoch;
  if (epoch < entry.epoch) return Fenced(epoch, entry.epoch);
  if (epoch > entry.epoch) {
    // A new epoch starts its sequences again at 0.
    if (base_sequence != 0) {
      return absl::OutOfRangeError(absl::StrCat("out of order sequence: expected 0, got ",
                                                base_sequence, " (new epoch ", epoch, ")"));
    }
    entry = Entry{epoch, std::nullopt, {}, {}, entry.last_used};
  }
  for (const Batch& b : entry.appended) {
    if (b.base_sequence == base_sequence && b.record_count == record_count) {
      return SequenceCheck{SequenceCheck::Kind::kDuplicate, b.base_offset, b.append_time_ms};
    }
  }
  for (const Batch& b : entry.pending) {
    if (b.base_sequence == base_sequence) {
      return absl::UnavailableError(
          absl::StrCat("batch with sequence ", base_sequence, " is still being written; retry"));
    }
  }
  if (entry.next_sequence.has_value() && base_sequence != *entry.next_sequence) {
    if (base_sequence < *entry.next_sequence) {
      return absl::FailedPreconditionError(absl::StrCat(
          "sequence ", base_sequence, " is older than the last ", kMaxRecordedBatches,
          " batches recorded (expected ", *entry.next_sequence, "); it cannot be deduplicated"));
    }
    return absl::OutOfRangeError(absl::StrCat("out of order sequence: expected ",
                                              *entry.next_sequence, ", got ", base_sequence));
  }
  entry.pending.push_back({base_sequence, record_count});
  entry.next_sequence = NextSequence(base_sequence, record_count);
  return SequenceCheck{};
}

void ProducerStateManager::OnAppended(int64_t producer_id, int16_t epoch,
                                      const storage::PartitionKey& partition, int32_t base_sequence,
                                      int32_t record_count, int64_t base_offset,
                                      int64_t append_time_ms) {
  absl::MutexLock lock(&mu_);
  Entry& entry = GetEntry({producer_id, partition});
  if (epoch != entry.epoch) return;  // superseded by a newer epoch meanwhile
  for (auto it = entry.pending.begin(); it != entry.pending.end(); ++it) {
    if (it->base_sequence == base_sequence) {
      entry.pending.erase(it);
      break;
    }
  }
  Record(entry, {base_sequence, record_count, base_offset, append_time_ms});
  if (!entry.next_sequence.has_value()) {
    entry.next_sequence = NextSequence(base_sequence, record_count);
  }
}

void ProducerStateManager::OnAppendFailed(int64_t producer_id, int16_t epoch,
                                          const storage::PartitionKey& partition,
                                          int32_t base_sequence, int32_t record_count) {
  absl::MutexLock lock(&mu_);
  auto found = entries_.find({producer_id, partition});
  if (found == entries_.end() || found->second.epoch != epoch) return;
  Entry& entry = found->second;
  auto it = std::find_if(entry.pending.begin(), entry.pending.end(),
                         [&](const Batch& b) { return b.base_sequence == base_sequence; });
  if (it == entry.pending.end()) return;
  // Later pending batches cannot be accepted after a gap: the client resends
  // from the failed one. (Should a later one still be written, OnAppended
  // records it and its retry is answered as a duplicate.)
  entry.pending.erase(it, entry.pending.end());
  entry.next_sequence = base_sequence;
}

void ProducerStateManager::Recover(const storage::PartitionKey& partition,
                                   const std::vector<BatchHeader>& tail) {
  absl::MutexLock lock(&mu_);
  for (const BatchHeader& h : tail) {
    if (h.producer_id < 0 || h.base_sequence < 0 || h.record_count <= 0) continue;
    const bool fresh = entries_.find({h.producer_id, partition}) == entries_.end();
    Entry& entry = GetEntry({h.producer_id, partition});
    if (!fresh && h.producer_epoch < entry.epoch) continue;
    if (fresh || h.producer_epoch > entry.epoch) {
      entry = Entry{h.producer_epoch, std::nullopt, {}, {}, entry.last_used};
    }
    Record(entry, {h.base_sequence, h.record_count, h.base_offset, h.append_time_ms});
    entry.next_sequence = NextSequence(h.base_sequence, h.record_count);
    int16_t& known = epochs_[h.producer_id];
    known = std::max(known, h.producer_epoch);
    // Never hand out an id the log already uses, even if the counter was
    // lost: the next allocation reserves a block past it first.
    next_id_ = std::max(next_id_, h.producer_id + 1);
    block_end_ = std::max(block_end_, next_id_);
  }
}

void ProducerStateManager::ForgetPartition(const storage::PartitionKey& partition) {
  absl::MutexLock lock(&mu_);
  absl::erase_if(entries_, [&](const auto& kv) { return kv.first.partition == partition; });
}

int64_t ProducerStateManager::entry_count() {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(entries_.size());
}

}  // namespace herald::coordination

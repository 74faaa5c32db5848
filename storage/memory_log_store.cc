// An in-memory LogStore with the same contract as the RocksDB one, for tests
// of the layers above.
//
// Completion model: SYNCHRONOUS. Append assigns the offset and stores the
// batch under the store mutex, then (with no lock held) runs the append
// listener and then the callback, on the caller's thread. Upper layers must
// therefore tolerate `done` running inside their own Append call, and a
// listener for a later append running before the one for an earlier append
// on another thread (the reported log end offsets are still per-partition
// monotonic for a single appending thread; callers should take the max).
#include <algorithm>
#include <deque>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/batch_format.h"
#include "common/crc32c.h"
#include "common/wire.h"
#include "storage/log_store.h"

namespace herald::storage {
namespace {

struct StoredBatch {
  BatchHeader header;
  std::string stored;
};

struct MemPartition {
  std::deque<StoredBatch> batches;
  int64_t log_start_offset = 0;
  int64_t log_end_offset = 0;
  int64_t size_bytes = 0;
};

std::string KeyName(PartitionKey key) {
  return absl::StrCat("partition ", key.topic_id, "/", key.partition);
}

absl::Status PartitionNotFound(PartitionKey key) {
  return absl::NotFoundError(absl::StrCat(KeyName(key), " does not exist"));
}

// Offset of the first record in `batch` whose timestamp is >= timestamp_ms,
// or nullopt. Records without a timestamp (and log-append-time batches) use
// the batch's append time, as the contract says.
std::optional<int64_t> FirstRecordAtOrAfter(const StoredBatch& batch, int64_t timestamp_ms) {
  const BatchHeader& h = batch.header;
  if (h.max_timestamp_ms < timestamp_ms && h.append_time_ms < timestamp_ms) return std::nullopt;
  if (h.timestamp_type == TimestampType::kLogAppendTime) {
    return h.append_time_ms >= timestamp_ms ? std::optional<int64_t>(h.base_offset) : std::nullopt;
  }
  absl::string_view payload = BatchPayload(batch.stored);
  int64_t index = 0;
  while (!payload.empty()) {
    wire::Field record;
    if (!wire::ReadField(&payload, &record)) break;  // validated on produce
    int64_t ts = 0;
    absl::string_view body = record.body;
    while (!body.empty()) {
      wire::Field f;
      if (!wire::ReadField(&body, &f)) break;
      if (f.number == 4 && f.type == wire::kVarint) ts = static_cast<int64_t>(f.varint);
    }
    if (ts == 0) ts = h.append_time_ms;
    if (ts >= timestamp_ms) return h.base_offset + index;
    ++index;
  }
  return std::nullopt;
}

class MemoryLogStore final : public LogStore {
 public:
  explicit MemoryLogStore(Clock* clock) : clock_(clock) {}

  absl::Status CreatePartition(PartitionKey key) override {
    std::lock_guard<std::mutex> lock(mu_);
    partitions_.try_emplace(key);
    return absl::OkStatus();
  }

  absl::Status DeletePartition(PartitionKey key) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (partitions_.erase(key) == 0) return PartitionNotFound(key);
    return absl::OkStatus();
  }

  std::vector<PartitionKey> ListPartitions() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<PartitionKey> keys;
    keys.reserve(partitions_.size());
    for (const auto& [key, unused] : partitions_) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  void Append(AppendRequest request, AppendCallback done) override {
    absl::StatusOr<AppendResult> result = AppendLocked(request);
    if (result.ok()) {
      std::function<void(PartitionKey, int64_t)> listener;
      {
        std::lock_guard<std::mutex> lock(mu_);
        listener = listener_;
      }
      const int64_t end = result->base_offset + request.header.record_count;
      if (listener) listener(request.partition, end);
    }
    done(std::move(result));
  }

  absl::StatusOr<ReadResult> Read(PartitionKey key, const ReadOptions& options) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = partitions_.find(key);
    if (it == partitions_.end()) return PartitionNotFound(key);
    const MemPartition& p = it->second;
    if (options.start_offset < p.log_start_offset || options.start_offset > p.log_end_offset) {
      return absl::OutOfRangeError(absl::StrCat("offset ", options.start_offset,
                                                " is out of range [", p.log_start_offset, ", ",
                                                p.log_end_offset, "]"));
    }
    ReadResult out;
    out.log_start_offset = p.log_start_offset;
    out.log_end_offset = p.log_end_offset;
    int64_t bytes = 0;
    for (size_t i = FindBatch(p, options.start_offset); i < p.batches.size(); ++i) {
      const StoredBatch& b = p.batches[i];
      if (b.header.base_offset >= options.max_offset) break;
      const int64_t size = static_cast<int64_t>(b.stored.size());
      if (!out.batches.empty() && bytes + size > options.max_bytes) break;
      if (options.verify_checksums) {
        auto verified = DecodeAndVerifyBatch(b.stored);
        if (!verified.ok()) return verified.status();
      }
      out.batches.push_back({b.header, b.stored});
      bytes += size;
    }
    return out;
  }

  absl::StatusOr<PartitionStats> Stats(PartitionKey key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = partitions_.find(key);
    if (it == partitions_.end()) return PartitionNotFound(key);
    const MemPartition& p = it->second;
    return PartitionStats{p.log_start_offset, p.log_end_offset, p.size_bytes,
                          static_cast<int64_t>(p.batches.size())};
  }

  absl::StatusOr<int64_t> OffsetForTimestamp(PartitionKey key, int64_t timestamp_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = partitions_.find(key);
    if (it == partitions_.end()) return PartitionNotFound(key);
    for (const StoredBatch& b : it->second.batches) {
      if (auto offset = FirstRecordAtOrAfter(b, timestamp_ms)) return *offset;
    }
    return it->second.log_end_offset;
  }

  absl::StatusOr<int64_t> ApplyRetention(PartitionKey key, const RetentionPolicy& policy,
                                         int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = partitions_.find(key);
    if (it == partitions_.end()) return PartitionNotFound(key);
    MemPartition& p = it->second;
    // Never delete the active (last) batch: it is where the log continues.
    while (p.batches.size() > 1) {
      const StoredBatch& front = p.batches.front();
      const bool too_old =
          policy.retention_ms >= 0 && front.header.max_timestamp_ms < now_ms - policy.retention_ms;
      const bool too_big = policy.retention_bytes >= 0 && p.size_bytes > policy.retention_bytes;
      const bool below = front.header.next_offset() <= policy.truncate_before_offset;
      if (!too_old && !too_big && !below) break;
      p.size_bytes -= static_cast<int64_t>(front.stored.size());
      p.log_start_offset = front.header.next_offset();
      p.batches.pop_front();
    }
    return p.log_start_offset;
  }

  absl::Status TruncateSuffix(PartitionKey key, int64_t offset) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = partitions_.find(key);
    if (it == partitions_.end()) return PartitionNotFound(key);
    MemPartition& p = it->second;
    if (offset == p.log_end_offset) return absl::OkStatus();
    const size_t i = FindBatch(p, offset);
    if (i >= p.batches.size() || p.batches[i].header.base_offset != offset) {
      return absl::InvalidArgumentError(
          absl::StrCat("offset ", offset, " is not a batch boundary of ", KeyName(key)));
    }
    while (p.batches.size() > i) {
      p.size_bytes -= static_cast<int64_t>(p.batches.back().stored.size());
      p.batches.pop_back();
    }
    p.log_end_offset = offset;
    return absl::OkStatus();
  }

  void SetAppendListener(std::function<void(PartitionKey, int64_t)> listener) override {
    std::lock_guard<std::mutex> lock(mu_);
    listener_ = std::move(listener);
  }

  absl::Status WriteMetadata(const std::vector<MetadataWrite>& writes) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const MetadataWrite& w : writes) {
      if (w.value.has_value()) {
        metadata_[w.key] = *w.value;
      } else {
        metadata_.erase(w.key);
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<std::string>> GetMetadata(absl::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = metadata_.find(std::string(key));
    if (it == metadata_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanMetadata(
      absl::string_view prefix) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<std::string, std::string>> out;
    for (auto it = metadata_.lower_bound(std::string(prefix));
         it != metadata_.end() && absl::string_view(it->first).substr(0, prefix.size()) == prefix;
         ++it) {
      out.emplace_back(it->first, it->second);
    }
    return out;
  }

  std::vector<std::pair<std::string, double>> EngineStats() override {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t bytes = 0;
    for (const auto& [key, p] : partitions_) bytes += p.size_bytes;
    return {{"memory_log_bytes", static_cast<double>(bytes)},
            {"memory_partitions", static_cast<double>(partitions_.size())}};
  }

  void Close() override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }

 private:
  // Index of the batch containing `offset` (or the first one after it).
  static size_t FindBatch(const MemPartition& p, int64_t offset) {
    auto it =
        std::upper_bound(p.batches.begin(), p.batches.end(), offset,
                         [](int64_t o, const StoredBatch& b) { return o < b.header.base_offset; });
    if (it == p.batches.begin()) return 0;
    --it;
    const size_t i = static_cast<size_t>(it - p.batches.begin());
    return it->header.next_offset() > offset ? i : i + 1;
  }

  absl::StatusOr<AppendResult> AppendLocked(const AppendRequest& request) {
    // Checked before taking the lock: the checksum is the expensive part.
    if (Crc32c(request.payload) != request.header.payload_crc) {
      return absl::InvalidArgumentError("append: payload_crc does not match the payload");
    }
    if (request.header.record_count <= 0) {
      return absl::InvalidArgumentError("append: record_count must be positive");
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return absl::UnavailableError("log store is closed");
    auto it = partitions_.find(request.partition);
    if (it == partitions_.end()) return PartitionNotFound(request.partition);
    MemPartition& p = it->second;
    if (request.expected_base_offset && *request.expected_base_offset != p.log_end_offset) {
      return absl::FailedPreconditionError(absl::StrCat("append expected offset ",
                                                        *request.expected_base_offset,
                                                        " but log end is ", p.log_end_offset));
    }
    BatchHeader h = request.header;
    h.base_offset = p.log_end_offset;
    if (!request.expected_base_offset) h.append_time_ms = clock_->NowMs();
    if (h.max_timestamp_ms == 0) h.max_timestamp_ms = h.append_time_ms;
    std::string stored(kBatchHeaderBytes + request.payload.size(), '\0');
    EncodeBatchHeader(h, stored.data());
    std::copy(request.payload.begin(), request.payload.end(), stored.begin() + kBatchHeaderBytes);
    p.size_bytes += static_cast<int64_t>(stored.size());
    p.log_end_offset = h.next_offset();
    p.batches.push_back({h, std::move(stored)});
    return AppendResult{h.base_offset, h.append_time_ms};
  }

  Clock* const clock_;
  std::mutex mu_;
  bool closed_ = false;
  std::map<PartitionKey, MemPartition> partitions_;
  std::map<std::string, std::string> metadata_;
  std::function<void(PartitionKey, int64_t)> listener_;
};

}  // namespace

std::unique_ptr<LogStore> NewMemoryLogStore(Clock* clock) {
  return std::make_unique<MemoryLogStore>(clock);
}

}  // namespace herald::storage

#pragma once
// Test-only: a storage::LogStore whose metadata KV lives in a map and whose
// log operations are unimplemented (coordination uses only the metadata).
// Writes can be made to fail to test error handling.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "storage/log_store.h"

namespace herald::coordination::testing {

class FakeMetadataStore final : public storage::LogStore {
 public:
  absl::Status CreatePartition(storage::PartitionKey) override { return Unimplemented(); }
  absl::Status DeletePartition(storage::PartitionKey) override { return Unimplemented(); }
  std::vector<storage::PartitionKey> ListPartitions() override { return {}; }
  void Append(storage::AppendRequest, storage::AppendCallback done) override {
    done(Unimplemented());
  }
  absl::StatusOr<storage::ReadResult> Read(storage::PartitionKey,
                                           const storage::ReadOptions&) override {
    return Unimplemented();
  }
  absl::StatusOr<storage::PartitionStats> Stats(storage::PartitionKey) override {
    return Unimplemented();
  }
  absl::StatusOr<int64_t> OffsetForTimestamp(storage::PartitionKey, int64_t) override {
    return Unimplemented();
  }
  absl::StatusOr<int64_t> ApplyRetention(storage::PartitionKey, const storage::RetentionPolicy&,
                                         int64_t) override {
    return Unimplemented();
  }
  absl::Status TruncateSuffix(storage::PartitionKey, int64_t) override { return Unimplemented(); }
  void SetAppendListener(std::function<void(storage::PartitionKey, int64_t)>) override {}
  std::vector<std::pair<std::string, double>> EngineStats() override { return {}; }
  void Close() override {}

  absl::Status WriteMetadata(const std::vector<storage::MetadataWrite>& writes) override {
    absl::MutexLock lock(&mu_);
    ++write_calls_;
    if (fail_writes_) return absl::UnavailableError("injected metadata write failure");
    for (const auto& w : writes) {
      if (w.value.has_value()) {
        kv_[w.key] = *w.value;
      } else {
        kv_.erase(w.key);
      }
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<std::string>> GetMetadata(absl::string_view key) override {
    absl::MutexLock lock(&mu_);
    auto it = kv_.find(std::string(key));
    if (it == kv_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanMetadata(
      absl::string_view prefix) override {
    absl::MutexLock lock(&mu_);
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [k, v] : kv_) {
      if (absl::StartsWith(k, prefix)) out.emplace_back(k, v);
    }
    return out;
  }

  void set_fail_writes(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_writes_ = fail;
  }
  int write_calls() {
    absl::MutexLock lock(&mu_);
    return write_calls_;
  }
  void Put(const std::string& key, const std::string& value) {
    absl::MutexLock lock(&mu_);
    kv_[key] = value;
  }

 private:
  static absl::Status Unimplemented() {
    return absl::UnimplementedError("FakeMetadataStore holds metadata only");
  }

  absl::Mutex mu_;
  std::map<std::string, std::string> kv_ ABSL_GUARDED_BY(mu_);
  bool fail_writes_ ABSL_GUARDED_BY(mu_) = false;
  int write_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace herald::coordination::testing

#pragma once
// Helpers shared by the storage tests (test-only).
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/batch_format.h"
#include "common/crc32c.h"
#include "common/wire.h"
#include "storage/log_store.h"

namespace herald::storage::testing {

// A fresh directory, removed when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "herald_storage_XXXXXX").string();
    path_ = mkdtemp(templ.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A serialized RecordBatch: one record per entry of `timestamps_ms` (0: the
// record carries no timestamp), values "<tag>-<i>".
inline std::string MakePayload(const std::vector<int64_t>& timestamps_ms, const std::string& tag) {
  std::string payload;
  for (size_t i = 0; i < timestamps_ms.size(); ++i) {
    std::string record;
    const std::string value = absl::StrCat(tag, "-", i);
    wire::AppendTag(&record, 2, wire::kLengthDelimited);
    wire::AppendVarint(&record, value.size());
    record += value;
    if (timestamps_ms[i] > 0) {
      wire::AppendTag(&record, 4, wire::kVarint);
      wire::AppendVarint(&record, static_cast<uint64_t>(timestamps_ms[i]));
    }
    wire::AppendTag(&payload, 1, wire::kLengthDelimited);
    wire::AppendVarint(&payload, record.size());
    payload += record;
  }
  return payload;
}

inline AppendRequest MakeRequest(PartitionKey key, const std::vector<int64_t>& timestamps_ms,
                                 const std::string& tag, bool sync = false) {
  AppendRequest r;
  r.partition = key;
  r.payload = MakePayload(timestamps_ms, tag);
  r.header.record_count = static_cast<int32_t>(timestamps_ms.size());
  int64_t max_ts = 0;
  for (int64_t ts : timestamps_ms) max_ts = std::max(max_ts, ts);
  r.header.max_timestamp_ms = max_ts;
  r.header.payload_crc = Crc32c(r.payload);
  r.sync = sync;
  return r;
}

// Appends and waits for the callback (a future, not a sleep).
inline absl::StatusOr<AppendResult> AppendAndWait(LogStore& store, AppendRequest request) {
  std::promise<absl::StatusOr<AppendResult>> done;
  auto future = done.get_future();
  store.Append(std::move(request),
               [&done](absl::StatusOr<AppendResult> r) { done.set_value(std::move(r)); });
  return future.get();
}

inline double EngineStat(LogStore& store, const std::string& name) {
  for (const auto& [n, v] : store.EngineStats()) {
    if (n == name) return v;
  }
  return -1;
}

}  // namespace herald::storage::testing

#include "cluster/metadata_command.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/batch_format.h"
#include "common/crc32c.h"
#include "common/wire.h"
#include "replication/partition_raft_log.h"

namespace herald::cluster {
namespace {

constexpr uint8_t kCommandVersion = 1;

void AppendBytes(std::string* out, absl::string_view bytes) {
  wire::AppendVarint(out, bytes.size());
  out->append(bytes.data(), bytes.size());
}

bool ReadBytes(absl::string_view* in, std::string* out) {
  uint64_t size = 0;
  if (!wire::ReadVarint(in, &size) || size > in->size()) return false;
  out->assign(in->data(), size);
  in->remove_prefix(size);
  return true;
}

absl::Status Malformed(absl::string_view why) {
  return absl::DataLossError(absl::StrCat("malformed metadata log entry: ", why));
}

}  // namespace

bool IsReplicatedMetadataKey(absl::string_view key) {
  return absl::StartsWith(key, "topic/") || key == "broker/next_topic_id" ||
         absl::StartsWith(key, "offset/") || absl::StartsWith(key, "coord/group/");
}

std::string EncodeMetadataProposal(const std::vector<storage::MetadataWrite>& writes,
                                   int64_t append_time_ms) {
  std::string payload(1, static_cast<char>(kCommandVersion));
  wire::AppendVarint(&payload, writes.size());
  for (const storage::MetadataWrite& w : writes) {
    AppendBytes(&payload, w.key);
    payload.push_back(w.value.has_value() ? 1 : 0);
    if (w.value.has_value()) AppendBytes(&payload, *w.value);
  }
  BatchHeader header;
  header.append_time_ms = append_time_ms;
  header.max_timestamp_ms = append_time_ms;
  header.record_count = 1;
  header.payload_crc = Crc32c(payload);
  return replication::PartitionRaftLog::ProposalData(header, payload);
}

absl::StatusOr<std::vector<storage::MetadataWrite>> DecodeMetadataEntry(absl::string_view data) {
  auto header = DecodeAndVerifyBatch(data);
  if (!header.ok()) return Malformed(header.status().message());
  absl::string_view in = BatchPayload(data);
  if (in.empty() || static_cast<uint8_t>(in[0]) != kCommandVersion) return Malformed("version");
  in.remove_prefix(1);
  uint64_t count = 0;
  if (!wire::ReadVarint(&in, &count) || count > in.size()) return Malformed("count");
  std::vector<storage::MetadataWrite> writes(count);
  for (storage::MetadataWrite& w : writes) {
    if (!ReadBytes(&in, &w.key) || in.empty()) return Malformed("key");
    const bool has_value = in[0] != 0;
    in.remove_prefix(1);
    if (has_value) {
      std::string value;
      if (!ReadBytes(&in, &value)) return Malformed("value");
      w.value = std::move(value);
    }
  }
  if (!in.empty()) return Malformed("trailing bytes");
  return writes;
}

}  // namespace herald::cluster

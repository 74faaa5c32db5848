#include "broker/committed_offsets.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace herald::broker {

std::string CommittedOffsetGroupPrefix(const std::string& group) {
  return absl::StrCat(kCommittedOffsetPrefix, group.size(), ":", group, "/");
}

std::string CommittedOffsetKey(const std::string& group, uint64_t topic_id, int32_t partition) {
  return absl::StrCat(CommittedOffsetGroupPrefix(group), absl::StrFormat("%016x", topic_id), "/",
                      absl::StrFormat("%010d", partition));
}

std::optional<ParsedOffsetKey> ParseCommittedOffsetKey(const std::string& key) {
  absl::string_view rest(key);
  const absl::string_view prefix(kCommittedOffsetPrefix);
  if (rest.substr(0, prefix.size()) != prefix) return std::nullopt;
  rest.remove_prefix(prefix.size());
  const size_t colon = rest.find(':');
  size_t group_len = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, colon), &group_len)) {
    return std::nullopt;
  }
  rest.remove_prefix(colon + 1);
  // <group>/<16 hex>/<10 dec>
  if (rest.size() != group_len + 1 + 16 + 1 + 10) return std::nullopt;
  ParsedOffsetKey out;
  out.group = std::string(rest.substr(0, group_len));
  if (!absl::SimpleHexAtoi(rest.substr(group_len + 1, 16), &out.topic_id) ||
      !absl::SimpleAtoi(rest.substr(group_len + 18, 10), &out.partition)) {
    return std::nullopt;
  }
  return out;
}

std::string EncodeCommittedValue(int64_t offset, const std::string& metadata) {
  return absl::StrCat(offset, ":", metadata);
}

std::optional<std::pair<int64_t, std::string>> DecodeCommittedValue(const std::string& value) {
  const size_t colon = value.find(':');
  int64_t offset = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(value.substr(0, colon), &offset)) {
    return std::nullopt;
  }
  return std::make_pair(offset, value.substr(colon + 1));
}

absl::StatusOr<std::vector<storage::MetadataWrite>> DeleteOffsetsOfTopic(storage::LogStore* store,
                                                                         uint64_t topic_id) {
  // A scan over every group: topic deletion is rare and offsets are small.
  auto all = store->ScanMetadata(kCommittedOffsetPrefix);
  if (!all.ok()) return all.status();
  std::vector<storage::MetadataWrite> writes;
  for (const auto& [key, value] : *all) {
    auto parsed = ParseCommittedOffsetKey(key);
    if (parsed && parsed->topic_id == topic_id) writes.push_back({key, std::nullopt});
  }
  return writes;
}

}  // namespace herald::broker

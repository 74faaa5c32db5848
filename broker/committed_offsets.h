#pragma once
// Durable committed offsets in LogStore metadata.
//
// Key: "offset/<group length>:<group>/<topic id, 16 hex>/<partition, 10 dec>".
// The group is length-prefixed because group names may contain '/', and a
// prefix scan for group "a" must not match group "a/b". The topic is keyed
// by id, not name, so a deleted and re-created topic starts with no offsets.
// Value: "<offset>:<metadata>".
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/log_store.h"

namespace herald::broker {

inline constexpr char kCommittedOffsetPrefix[] = "offset/";

std::string CommittedOffsetGroupPrefix(const std::string& group);
std::string CommittedOffsetKey(const std::string& group, uint64_t topic_id, int32_t partition);

struct ParsedOffsetKey {
  std::string group;
  uint64_t topic_id = 0;
  int32_t partition = 0;
};
std::optional<ParsedOffsetKey> ParseCommittedOffsetKey(const std::string& key);

std::string EncodeCommittedValue(int64_t offset, const std::string& metadata);
// nullopt if malformed.
std::optional<std::pair<int64_t, std::string>> DecodeCommittedValue(const std::string& value);

// Deletions of every committed offset of `topic_id`, across groups.
absl::StatusOr<std::vector<storage::MetadataWrite>> DeleteOffsetsOfTopic(storage::LogStore* store,
                                                                         uint64_t topic_id);

}  // namespace herald::broker

#pragma once
// Membership changes, one voter at a time (Raft dissertation §4.1).
//
// A change is replicated as an entry of type EntryType::kConfChange whose
// data is EncodeConfChange(change, voters_after). The entry carries the whole
// resulting voter set, not just the delta, so the configuration at any index
// is the one in the last config entry at or before it (or, before the first
// one, the snapshot's / the bootstrap voters): no base is needed to read it.
//
// Encoding (version 1, little endian):
//   u8 version = 1 | u8 type | u64 node | u32 count | count x u64 voter
// with voters sorted, unique, non-zero, non-empty, and consistent with the
// change (an added node is in the set, a removed one is not).
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "replication/types.h"

namespace herald::replication {

struct ConfChange {
  enum class Type : uint8_t { kAddVoter = 1, kRemoveVoter = 2 };
  Type type = Type::kAddVoter;
  NodeId node = kNoNode;

  friend bool operator==(const ConfChange& a, const ConfChange& b) {
    return a.type == b.type && a.node == b.node;
  }
};

// A decoded config entry: the change and the voters after it.
struct ConfChangeEntry {
  ConfChange change;
  std::vector<NodeId> voters;
};

inline constexpr uint8_t kConfChangeVersion = 1;

// `voters` must be the set after the change (sorted, unique).
std::string EncodeConfChange(const ConfChange& change, const std::vector<NodeId>& voters);
// INVALID_ARGUMENT on an unknown version/type or an inconsistent entry.
absl::StatusOr<ConfChangeEntry> DecodeConfChange(absl::string_view data);

// The voter set after applying `change` to `voters` (sorted, unique).
// FAILED_PRECONDITION if the change is a no-op (adding a voter, removing a
// non-voter) or would leave no voter; INVALID_ARGUMENT for node 0.
absl::StatusOr<std::vector<NodeId>> ApplyConfChange(const std::vector<NodeId>& voters,
                                                    const ConfChange& change);

// The configuration in effect after the last config entry of `entries`, or
// `base` if there is none. DATA_LOSS if a config entry does not decode.
absl::StatusOr<std::vector<NodeId>> LastConfig(const std::vector<Entry>& entries,
                                               std::vector<NodeId> base);

}  // namespace herald::replication

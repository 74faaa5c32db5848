#pragma once
// Internal: the in-memory state of one consumer group, and its durable
// encoding. Used only by group_coordinator.cc (and its tests); not part of
// the module's API.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "coordination/assignor.h"
#include "coordination/group_coordinator.h"
#include "re2/re2.h"

namespace herald::coordination {

struct Member {
  std::string member_id;
  std::string instance_id;  // non-empty: static member
  std::string client_id;
  std::string host;
  std::vector<std::string> topics;
  std::string topic_regex;
  std::shared_ptr<const re2::RE2> regex;  // compiled topic_regex, or null
  int64_t session_timeout_ms = 0;
  int64_t last_seen_ms = 0;
  // false: a static member whose stream closed; it keeps its partitions
  // until reserved_until_ms and gets no events meanwhile.
  bool connected = true;
  int64_t reserved_until_ms = 0;
  PartitionSet owned;                          // owned now (Assignment sent, not yet given up)
  PartitionSet target;                         // what the assignor wants it to own
  std::map<TopicPartition, int64_t> revoking;  // owned, revoke sent -> deadline_ms
  int64_t generation = 0;                      // generation of the last Assignment it was sent
  bool needs_assign = false;

  bool is_static() const { return !instance_id.empty(); }
  // Key for the assignor: stable across reconnects of static members so
  // that range / round-robin do not reshuffle when a static member returns.
  std::string assignor_key() const { return is_static() ? "i:" + instance_id : "m:" + member_id; }
};

struct GroupCoordinator::Group {
  std::string name;
  AssignmentStrategy strategy = AssignmentStrategy::kSticky;
  int64_t generation = 0;
  int64_t rebalances = 0;
  std::map<std::string, Member> members;  // by member id
  std::string persisted;                  // last encoding written (skip no-op writes)
};

// What survives a restart: group existence, strategy, generation, and the
// static members with their subscription and last ownership.
std::string EncodeGroup(const GroupCoordinator::Group& group);

struct DecodedStatic {
  std::string instance_id;
  std::string client_id;
  std::vector<std::string> topics;
  std::string topic_regex;
  int64_t session_timeout_ms = 0;
  PartitionSet owned;
};
struct DecodedGroup {
  AssignmentStrategy strategy = AssignmentStrategy::kSticky;
  int64_t generation = 0;
  std::vector<DecodedStatic> statics;
};
// DATA_LOSS if malformed.
absl::StatusOr<DecodedGroup> DecodeGroup(absl::string_view encoded);

}  // namespace herald::coordination

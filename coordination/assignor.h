#pragma once
// Partition assignors: pure functions from (members, their subscriptions and
// current ownership, topic partition counts) to a target assignment. No
// state, no locking, no I/O: the group coordinator calls them under its lock.
//
// Every assignor guarantees: each partition of a topic that at least one
// member subscribes to is assigned to exactly one member subscribed to that
// topic, and nothing else is assigned.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/string_view.h"

namespace herald::coordination {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  friend bool operator==(const TopicPartition& a, const TopicPartition& b) {
    return a.partition == b.partition && a.topic == b.topic;
  }
  friend bool operator!=(const TopicPartition& a, const TopicPartition& b) { return !(a == b); }
  friend bool operator<(const TopicPartition& a, const TopicPartition& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  }
};

using PartitionSet = std::set<TopicPartition>;

std::string ToString(const TopicPartition& tp);   // "topic-3"
std::string ToString(const PartitionSet& parts);  // "[a-0, a-1]"

enum class AssignmentStrategy {
  // Balanced (counts differ by at most one among members with the same
  // subscription) and sticky (keeps current owners, moves the fewest).
  kSticky,
  // Per topic, contiguous ranges of partitions in member-id order.
  kRange,
  // All partitions in (topic, partition) order dealt round the members.
  kRoundRobin,
};

absl::string_view StrategyName(AssignmentStrategy strategy);  // "sticky", ...

struct AssignorMember {
  std::string member_id;
  std::set<std::string> topics;  // resolved subscription
  PartitionSet owned;            // current ownership (for stickiness)
};

// topic -> partition count. Subscribed topics missing here have no partitions.
using TopicPartitionCounts = std::map<std::string, int32_t>;

// member_id -> target partitions. Every input member has an entry.
using Assignment = std::map<std::string, PartitionSet>;

Assignment ComputeAssignment(AssignmentStrategy strategy,
                             const std::vector<AssignorMember>& members,
                             const TopicPartitionCounts& topics);

Assignment AssignSticky(const std::vector<AssignorMember>& members,
                        const TopicPartitionCounts& topics);
Assignment AssignRange(const std::vector<AssignorMember>& members,
                       const TopicPartitionCounts& topics);
Assignment AssignRoundRobin(const std::vector<AssignorMember>& members,
                            const TopicPartitionCounts& topics);

}  // namespace herald::coordination

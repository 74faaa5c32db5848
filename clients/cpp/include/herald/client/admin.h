#pragma once
// herald::client::Admin: the control plane (topics, offsets, cluster).
//
// Thread-safe: one Admin may be shared by many threads. Every call is a
// unary RPC with a deadline (ConnectionOptions::rpc_timeout_ms) and returns
// the server's status code and message unchanged (e.g. NOT_FOUND for an
// unknown topic, DEADLINE_EXCEEDED if the broker did not answer in time).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "herald/client/options.h"
#include "herald/client/types.h"
#include "herald/v1/admin.pb.h"
#include "herald/v1/broker.pb.h"

namespace herald::client {

// Topic settings from "key=value" strings as the CLI takes them. Keys:
// retention_ms, retention_bytes, max_message_bytes, timestamp_type
// (create_time | log_append_time). INVALID_ARGUMENT for unknown keys or bad values.
absl::StatusOr<v1::TopicConfig> ParseTopicConfig(const std::map<std::string, std::string>& entries);

struct PartitionOffsets {
  int32_t partition = 0;
  int64_t offset = 0;  // the offset the query resolved to
  int64_t timestamp_ms = 0;
  int64_t log_start_offset = 0;
  int64_t high_watermark = 0;
};

class Admin {
 public:
  static absl::StatusOr<std::unique_ptr<Admin>> Create(AdminOptions options);
  virtual ~Admin() = default;

  // partitions / replication_factor 0: the broker's defaults.
  virtual absl::StatusOr<v1::TopicDescription> CreateTopic(const std::string& name,
                                                           int32_t partitions,
                                                           int32_t replication_factor,
                                                           const v1::TopicConfig& config) = 0;
  virtual absl::Status DeleteTopic(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<v1::ListTopicsResponse::Topic>> ListTopics() = 0;
  virtual absl::StatusOr<v1::TopicDescription> DescribeTopic(const std::string& name) = 0;
  // Only the fields set in `config` change; returns the effective config.
  virtual absl::StatusOr<v1::TopicConfig> AlterTopicConfig(const std::string& name,
                                                           const v1::TopicConfig& config) = 0;
  virtual absl::StatusOr<v1::TopicDescription> CreatePartitions(const std::string& name,
                                                                int32_t total_partitions) = 0;
  // Every partition when `partitions` is empty.
  virtual absl::StatusOr<std::vector<PartitionOffsets>> ListOffsets(
      const std::string& topic, const std::vector<int32_t>& partitions,
      const StartPosition& position) = 0;
  // Standalone commits (no active group members). Fails with the first
  // per-partition error, if any.
  virtual absl::Status CommitOffsets(const std::string& group,
                                     const std::vector<PartitionOffset>& offsets) = 0;
  // Every committed partition when `partitions` is empty; offset -1 when
  // nothing is committed.
  virtual absl::StatusOr<std::vector<PartitionOffset>> FetchCommittedOffsets(
      const std::string& group, const std::vector<TopicPartition>& partitions) = 0;
  virtual absl::StatusOr<v1::DescribeClusterResponse> DescribeCluster() = 0;

  // Consumer groups.
  virtual absl::StatusOr<v1::ListGroupsResponse> ListGroups() = 0;
  // Members, assignments, and per partition the committed offset and lag.
  virtual absl::StatusOr<v1::DescribeGroupResponse> DescribeGroup(const std::string& group) = 0;
  // FAILED_PRECONDITION while the group has members.
  virtual absl::Status DeleteGroup(const std::string& group) = 0;
  // Only while the group has no members; `request.dry_run` computes only.
  virtual absl::StatusOr<v1::ResetGroupOffsetsResponse> ResetGroupOffsets(
      const v1::ResetGroupOffsetsRequest& request) = 0;
};

}  // namespace herald::client

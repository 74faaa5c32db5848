#pragma once
// broker::Broker: the broker core. Plain C++ (no gRPC, no protobuf): topics,
// partition choice, produce, reads, subscriptions with credit, offsets,
// retention. The gRPC edge (server/) translates RPCs to these calls.
//
// Threads: every method is thread-safe and none blocks on the network.
// Asynchronous results are delivered through callbacks that run on broker or
// storage threads; callbacks must be quick and must not block.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/batch_format.h"
#include "common/clock.h"
#include "storage/log_store.h"

namespace herald::broker {

struct TopicConfig {
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;
  int64_t retention_bytes = -1;
  int32_t max_message_bytes = 1 << 20;
  TimestampType timestamp_type = TimestampType::kCreateTime;
};

// A partial config: only set fields change (AlterTopicConfig) or override the
// broker's defaults (CreateTopic).
struct TopicConfigUpdate {
  std::optional<int64_t> retention_ms;
  std::optional<int64_t> retention_bytes;
  std::optional<int32_t> max_message_bytes;
  std::optional<TimestampType> timestamp_type;
};

struct BrokerOptions {
  int32_t node_id = 0;
  std::string advertised_address;  // host:port clients use to reach this node
  std::string cluster_id;          // generated and persisted on first start if empty
  std::string rack;
  int32_t default_partitions = 1;
  int32_t default_replication_factor = 1;
  int32_t max_partitions_per_topic = 10000;
  TopicConfig default_topic_config;
  // Upper bound on max_message_bytes any topic may set.
  int32_t max_message_bytes_limit = 16 << 20;
  // Bytes of produce requests accepted but not yet acknowledged, across all
  // streams. Beyond it Produce fails fast with RESOURCE_EXHAUSTED; the edge
  // applies backpressure well before (see ProduceBudget).
  int64_t max_pending_produce_bytes = 512LL << 20;
  // How often retention runs over every partition.
  int64_t retention_check_interval_ms = 30'000;
  // Largest batch list handed to a subscription sink at once.
  int64_t max_delivery_bytes = 1 << 20;
  // Threads that read the log for subscriptions and long-poll fetches.
  int32_t read_threads = 2;
  // Consumer groups: how often sessions and revoke deadlines are checked,
  // the session timeout for members that ask for 0 and the smallest one a
  // member may ask for, and how long a member has to confirm a Revoke.
  int64_t group_tick_interval_ms = 100;
  int64_t group_default_session_timeout_ms = 45'000;
  int64_t group_min_session_timeout_ms = 1'000;
  int64_t group_revoke_timeout_ms = 30'000;
  Clock* clock = Clock::Real();
};

struct PartitionInfo {
  int32_t partition = 0;
  int64_t log_start_offset = 0;
  int64_t high_watermark = 0;
  int64_t size_bytes = 0;
  int32_t leader = 0;
  std::vector<int32_t> replicas;
  std::vector<int32_t> in_sync_replicas;
  int64_t leader_epoch = 0;
};

struct TopicInfo {
  std::string name;
  uint64_t topic_id = 0;
  int32_t partition_count = 0;
  int32_t replication_factor = 1;
  TopicConfig config;
  std::vector<PartitionInfo> partitions;  // filled by DescribeTopic only
};

struct NodeInfo {
  int32_t id = 0;
  std::string address;
  std::string rack;
};

struct ClusterInfo {
  std::string cluster_id;
  int32_t controller_id = 0;
  std::vector<NodeInfo> nodes;
};

enum class Acks { kNone, kLeader, kAll };

struct ProduceBatch {
  std::string topic;
  std::optional<int32_t> partition;  // nullopt: broker chooses (keys / spread)
  std::string payload;               // serialized herald.v1.RecordBatch
  Acks acks = Acks::kAll;
  int64_t producer_id = -1;  // -1: not idempotent
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  // Cluster mode: the batch was forwarded here by another node; if this
  // node does not lead the partition either, it fails instead of being
  // forwarded again (no forwarding loops while leadership moves).
  bool forwarded = false;
};

struct ProduceResult {
  int32_t partition = 0;
  int64_t base_offset = 0;
  int64_t append_time_ms = 0;
  int32_t record_count = 0;
  bool duplicate = false;  // idempotent retry of a batch already written
};

using ProduceCallback = absl::AnyInvocable<void(absl::StatusOr<ProduceResult>)>;

// Cluster mode: hands a batch to the node that leads its partition (the
// edge implements it over gRPC). `batch.partition` is set. `done` runs
// exactly once, on any thread.
class ProduceForwarder {
 public:
  virtual ~ProduceForwarder() = default;
  virtual void Forward(const std::string& leader_address, ProduceBatch batch,
                       ProduceCallback done) = 0;
};

// A batch read from a partition, as stored: header || payload. The edge
// sends BatchPayload(stored) to consumers without re-encoding it.
struct FetchedBatch {
  std::string topic;
  int32_t partition = 0;
  BatchHeader header;
  std::string stored;
};

struct StartPosition {
  enum class Kind { kEarliest, kLatest, kOffset, kTimestamp, kCommitted };
  Kind kind = Kind::kLatest;
  int64_t value = 0;  // offset or timestamp_ms

  static StartPosition Earliest() { return {Kind::kEarliest, 0}; }
  static StartPosition Latest() { return {Kind::kLatest, 0}; }
  static StartPosition AtOffset(int64_t o) { return {Kind::kOffset, o}; }
  static StartPosition AtTime(int64_t ms) { return {Kind::kTimestamp, ms}; }
};

struct FetchRequest {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t max_bytes = 1 << 20;
  int64_t max_wait_ms = 0;  // long poll: wait up to this long for data
};

struct FetchResult {
  std::vector<FetchedBatch> batches;
  int64_t log_start_offset = 0;
  int64_t high_watermark = 0;
};

using FetchCallback = absl::AnyInvocable<void(absl::StatusOr<FetchResult>)>;

struct ListedOffset {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;
  int64_t log_start_offset = 0;
  int64_t high_watermark = 0;
};

struct CommittedOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;  // -1: nothing committed
  std::string metadata;
};

// A partition of a topic, as consumer groups name them.
struct GroupPartition {
  std::string topic;
  int32_t partition = 0;
  friend bool operator==(const GroupPartition& a, const GroupPartition& b) {
    return a.partition == b.partition && a.topic == b.topic;
  }
};

enum class GroupStrategy { kDefault, kSticky, kRange, kRoundRobin };

// Pushed to a group member: the complete set of partitions it now owns.
struct GroupAssignment {
  std::string member_id;
  int64_t generation = 0;
  std::vector<GroupPartition> partitions;
};

// Pushed to a group member: it no longer reads `partitions` (delivery of
// them has already stopped); it should commit and confirm with
// Subscription::RevokeDone within deadline_ms (relative).
struct GroupRevoke {
  int64_t generation = 0;
  std::vector<GroupPartition> partitions;
  int64_t deadline_ms = 0;
};

struct SubscribeOptions {
  struct PartitionStart {
    std::string topic;
    int32_t partition = 0;
    std::optional<StartPosition> position;  // nullopt: `start`
  };
  std::vector<PartitionStart> partitions;  // explicit partitions
  std::vector<std::string> topics;         // every partition of these
  StartPosition start = StartPosition::Latest();
  int64_t max_delivery_bytes = 0;  // 0: BrokerOptions::max_delivery_bytes
  int64_t initial_credit_records = 0;
  int64_t initial_credit_bytes = 0;

  // Consumer groups. With a non-empty `group`, `partitions` must be empty
  // and the coordinator assigns partitions of `topics` (or of the topics
  // matching `topic_pattern`, RE2 full match); each newly assigned
  // partition starts at the group's committed offset, or at `reset` when
  // there is none (or it is outside the log).
  std::string group;
  std::string instance_id;  // non-empty: static membership
  std::string client_id;
  std::string host;
  std::string topic_pattern;
  GroupStrategy strategy = GroupStrategy::kDefault;
  int64_t session_timeout_ms = 0;  // 0: the broker default
  StartPosition reset = StartPosition::Latest();
};

// Receives a subscription's output. Calls are serialized (never two at once
// for one subscription) and never made after Subscription::Close returns.
class SubscriptionSink {
 public:
  virtual ~SubscriptionSink() = default;
  // Batches to send, within the granted credit. No further OnBatches call
  // is made until the sink calls Subscription::DeliveryDone().
  virtual void OnBatches(std::vector<FetchedBatch> batches) = 0;
  // The subscription ended (e.g. its topic was deleted: NOT_FOUND; data
  // corruption: DATA_LOSS). Nothing more is delivered.
  virtual void OnError(absl::Status status) = 0;
  // Group subscriptions only. Ordered with OnBatches: batches of a revoked
  // partition are never delivered after its OnRevoke, and batches of an
  // assigned partition never before its OnAssignment. They need no credit
  // and no DeliveryDone. Fenced members get OnError(ABORTED).
  virtual void OnAssignment(const GroupAssignment& assignment) {}
  virtual void OnRevoke(const GroupRevoke& revoke) {}
};

class Subscription {
 public:
  virtual ~Subscription() = default;
  // Adds credit. Delivery resumes when both remaining counts are positive.
  virtual void AddCredit(int64_t records, int64_t bytes) = 0;
  // The previous OnBatches delivery has been sent; the next may follow.
  virtual void DeliveryDone() = 0;
  // Moves one subscribed partition's read position. NOT_FOUND if the
  // partition is not part of this subscription; OUT_OF_RANGE for offsets
  // outside the log. Returns the resolved offset.
  virtual absl::StatusOr<int64_t> Seek(const std::string& topic, int32_t partition,
                                       const StartPosition& position) = 0;
  // Stops delivery. After it returns the sink is never called again. Must
  // not be called from inside a sink callback. A group member leaves its
  // group (a static member keeps its partitions for its session timeout).
  virtual void Close() = 0;

  // --- group subscriptions only (FAILED_PRECONDITION otherwise) ---
  // Confirms a Revoke of `partitions` (after committing them).
  virtual absl::Status RevokeDone(int64_t generation,
                                  const std::vector<GroupPartition>& partitions) {
    return absl::FailedPreconditionError("not a group subscription");
  }
  // Commits as this member (its member id and current generation).
  virtual std::vector<absl::Status> Commit(const std::vector<CommittedOffset>& offsets) {
    return std::vector<absl::Status>(offsets.size(),
                                     absl::FailedPreconditionError("not a group subscription"));
  }
  // Keeps the member alive (so do credit, commits and RevokeDone).
  virtual absl::Status Heartbeat() { return absl::OkStatus(); }
  virtual std::string member_id() const { return ""; }
};

struct ProducerId {
  int64_t producer_id = -1;
  int16_t epoch = 0;
};

struct GroupListing {
  std::string group;
  std::string state;  // EMPTY, STABLE, REBALANCING, DEAD
  int32_t members = 0;
};

struct GroupDescription {
  struct Member {
    std::string member_id;
    std::string instance_id;
    std::string client_id;
    std::string host;
    bool connected = true;  // false: a static member whose partitions are reserved
    int64_t generation = 0;
    std::vector<GroupPartition> assignment;
  };
  struct PartitionLag {
    std::string topic;
    int32_t partition = 0;
    int64_t committed_offset = -1;  // -1: nothing committed
    int64_t high_watermark = 0;
    // high_watermark - committed_offset; with nothing committed, every
    // retained record (high_watermark - log start) counts as lag.
    int64_t lag = 0;
    std::string owner_member_id;
  };
  std::string group;
  std::string state;
  int64_t generation = 0;
  std::string strategy;
  std::vector<Member> members;
  std::vector<PartitionLag> partitions;  // owned or with a committed offset
};

struct ResetOffsetsRequest {
  std::string group;
  std::string topic;
  std::vector<int32_t> partitions;  // empty: every partition of the topic
  // Exactly one of: a position (earliest, latest, offset, timestamp) or a
  // shift of the committed offset (clamped to the log).
  std::optional<StartPosition> position;
  int64_t shift_by = 0;
  bool dry_run = false;
};

struct OffsetReset {
  std::string topic;
  int32_t partition = 0;
  int64_t previous_offset = -1;
  int64_t new_offset = 0;
};

struct GroupGauge {
  std::string group;
  int32_t members = 0;
  int64_t rebalances = 0;
};

class Broker {
 public:
  virtual ~Broker() = default;

  // Starts background work (retention). Idempotent.
  virtual absl::Status Start() = 0;
  // Stops accepting produce (UNAVAILABLE), completes in-flight appends,
  // ends subscriptions with UNAVAILABLE, stops background work, closes
  // the store. Idempotent.
  virtual void Shutdown() = 0;
  // Cluster mode: where Produce sends batches of partitions another node
  // leads (nullptr: they fail with UNAVAILABLE naming the leader). Must
  // outlive every Produce call; reset to nullptr before destroying it.
  virtual void SetProduceForwarder(ProduceForwarder* /*forwarder*/) {}

  // --- topics ---
  virtual absl::StatusOr<TopicInfo> CreateTopic(const std::string& name, int32_t partitions,
                                                int32_t replication_factor,
                                                const TopicConfigUpdate& config) = 0;
  virtual absl::Status DeleteTopic(const std::string& name) = 0;
  virtual std::vector<TopicInfo> ListTopics() = 0;
  virtual absl::StatusOr<TopicInfo> DescribeTopic(const std::string& name) = 0;
  virtual absl::StatusOr<TopicConfig> AlterTopicConfig(const std::string& name,
                                                       const TopicConfigUpdate& update) = 0;
  virtual absl::StatusOr<TopicInfo> CreatePartitions(const std::string& name,
                                                     int32_t total_partitions) = 0;
  virtual ClusterInfo DescribeCluster() = 0;

  // --- data ---
  // Validates, chooses the partition, appends. `done` runs exactly once.
  // Errors: NOT_FOUND unknown topic/partition, INVALID_ARGUMENT malformed
  // or oversized batch or keys spanning partitions, RESOURCE_EXHAUSTED over
  // the pending-bytes bound, UNAVAILABLE while shutting down.
  virtual void Produce(ProduceBatch batch, ProduceCallback done) = 0;

  // Reads from `offset` (OUT_OF_RANGE outside [log start, high watermark],
  // naming both). With max_wait_ms > 0 and no data, waits for an append.
  virtual void Fetch(const FetchRequest& request, FetchCallback done) = 0;

  // kEarliest, kLatest or kTimestamp per partition (all if empty).
  virtual absl::StatusOr<std::vector<ListedOffset>> ListOffsets(
      const std::string& topic, const std::vector<int32_t>& partitions,
      const StartPosition& position) = 0;

  virtual absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const SubscribeOptions& options,
                                                                  SubscriptionSink* sink) = 0;

  // --- committed offsets (durable) ---
  // Per-partition status (NOT_FOUND unknown topic/partition, OUT_OF_RANGE
  // offset beyond high watermark or negative).
  virtual std::vector<absl::Status> CommitOffsets(const std::string& group,
                                                  const std::vector<CommittedOffset>& offsets) = 0;
  // All committed offsets of the group when `partitions` is empty.
  virtual absl::StatusOr<std::vector<CommittedOffset>> FetchCommittedOffsets(
      const std::string& group, const std::vector<std::pair<std::string, int32_t>>& partitions) = 0;

  // --- introspection for metrics ---
  struct PartitionGauge {
    std::string topic;
    int32_t partition = 0;
    int64_t high_watermark = 0;
    int64_t log_start_offset = 0;
    int64_t size_bytes = 0;
  };
  virtual std::vector<PartitionGauge> PartitionGauges() = 0;
  virtual std::vector<std::pair<std::string, double>> StorageStats() = 0;
  // Cluster mode only (empty / nullopt on a single node): who leads each
  // partition and, on its leader, replica lag; the store's raw replication
  // numbers.
  struct PartitionReplicaGauge {
    std::string topic;
    int32_t partition = 0;
    storage::ReplicaState replica;
  };
  virtual std::vector<PartitionReplicaGauge> PartitionReplicaGauges() { return {}; }
  virtual std::optional<storage::ReplicationStats> GetReplicationStats() { return std::nullopt; }
  // Before a planned stop in cluster mode: moves leadership of everything
  // this node leads elsewhere (storage::LogStore::HandOffLeadership), so
  // clients are redirected instead of waiting out an election. Call before
  // Shutdown while the edge still serves; best effort.
  virtual absl::Status HandOffLeadership(int64_t /*timeout_ms*/) { return absl::OkStatus(); }

  // --- consumer groups and idempotent producers (defaults: UNIMPLEMENTED,
  // so fakes of this interface keep compiling) ---
  // A commit by a group member: ABORTED for a stale generation, an unknown
  // member or a partition it does not own; FAILED_PRECONDITION for an
  // offset moving backwards. Empty member_id and generation 0: standalone,
  // which is what CommitOffsets(group, offsets) does.
  virtual std::vector<absl::Status> CommitGroupOffsets(
      const std::string& group, const std::string& member_id, int64_t generation,
      const std::vector<CommittedOffset>& offsets) {
    return std::vector<absl::Status>(offsets.size(), absl::UnimplementedError("groups"));
  }
  virtual std::vector<GroupListing> ListGroups() { return {}; }
  // NOT_FOUND for a group with no members and no committed offsets.
  virtual absl::StatusOr<GroupDescription> DescribeGroup(const std::string& group) {
    return absl::UnimplementedError("groups");
  }
  // Deletes the group and its committed offsets. FAILED_PRECONDITION while
  // it has members; NOT_FOUND if unknown.
  virtual absl::Status DeleteGroup(const std::string& group) {
    return absl::UnimplementedError("groups");
  }
  // FAILED_PRECONDITION while the group has members.
  virtual absl::StatusOr<std::vector<OffsetReset>> ResetGroupOffsets(
      const ResetOffsetsRequest& request) {
    return absl::UnimplementedError("groups");
  }
  virtual std::vector<GroupGauge> GroupGauges() { return {}; }
  // Empty transactional_id: a fresh producer id (epoch 0); otherwise that
  // id's producer with its epoch bumped, fencing older instances.
  virtual absl::StatusOr<ProducerId> InitProducer(const std::string& transactional_id) {
    return absl::UnimplementedError("idempotent producers");
  }
};

// Opens the broker over `store` (loading topics and offsets from it).
absl::StatusOr<std::unique_ptr<Broker>> OpenBroker(const BrokerOptions& options,
                                                   std::unique_ptr<storage::LogStore> store);

}  // namespace herald::broker

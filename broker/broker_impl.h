#pragma once
// BrokerImpl: the single-node broker core behind broker::Broker.
//
// Threads it owns: `read_threads` ReadPool workers (subscriptions and
// fetches), one long-poll timer thread (Fetcher) and one retention thread
// (after Start). Produce runs on the caller's thread up to the append;
// completions run on the storage writer thread.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "broker/broker.h"
#include "broker/broker_context.h"
#include "broker/fetcher.h"
#include "broker/group_manager.h"
#include "broker/idempotence.h"

namespace herald::broker {

class BrokerImpl final : public Broker, private storage::ReplicationListener {
 public:
  BrokerImpl(std::shared_ptr<BrokerContext> ctx, std::shared_ptr<GroupManager> groups,
             std::unique_ptr<ProducerStateGuard> idempotence);
  ~BrokerImpl() override;  // Shutdown()

  absl::Status Start() override;
  void Shutdown() override;
  void SetProduceForwarder(ProduceForwarder* forwarder) override { forwarder_.store(forwarder); }

  absl::StatusOr<TopicInfo> CreateTopic(const std::string& name, int32_t partitions,
                                        int32_t replication_factor,
                                        const TopicConfigUpdate& config) override;
  absl::Status DeleteTopic(const std::string& name) override;
  std::vector<TopicInfo> ListTopics() override;
  absl::StatusOr<TopicInfo> DescribeTopic(const std::string& name) override;
  absl::StatusOr<TopicConfig> AlterTopicConfig(const std::string& name,
                                               const TopicConfigUpdate& update) override;
  absl::StatusOr<TopicInfo> CreatePartitions(const std::string& name,
                                             int32_t total_partitions) override;
  ClusterInfo DescribeCluster() override;

  void Produce(ProduceBatch batch, ProduceCallback done) override;
  void Fetch(const FetchRequest& request, FetchCallback done) override;
  absl::StatusOr<std::vector<ListedOffset>> ListOffsets(const std::string& topic,
                                                        const std::vector<int32_t>& partitions,
                                                        const StartPosition& position) override;
  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const SubscribeOptions& options,
                                                          SubscriptionSink* sink) override;

  std::vector<absl::Status> CommitOffsets(const std::string& group,
                                          const std::vector<CommittedOffset>& offsets) override;
  absl::StatusOr<std::vector<CommittedOffset>> FetchCommittedOffsets(
      const std::string& group,
      const std::vector<std::pair<std::string, int32_t>>& partitions) override;

  std::vector<PartitionGauge> PartitionGauges() override;
  std::vector<std::pair<std::string, double>> StorageStats() override;
  std::vector<PartitionReplicaGauge> PartitionReplicaGauges() override;
  std::optional<storage::ReplicationStats> GetReplicationStats() override;
  absl::Status HandOffLeadership(int64_t timeout_ms) override;

  std::vector<absl::Status> CommitGroupOffsets(
      const std::string& group, const std::string& member_id, int64_t generation,
      const std::vector<CommittedOffset>& offsets) override;
  std::vector<GroupListing> ListGroups() override;
  absl::StatusOr<GroupDescription> DescribeGroup(const std::string& group) override;
  absl::Status DeleteGroup(const std::string& group) override;
  absl::StatusOr<std::vector<OffsetReset>> ResetGroupOffsets(
      const ResetOffsetsRequest& request) override;
  std::vector<GroupGauge> GroupGauges() override;
  absl::StatusOr<ProducerId> InitProducer(const std::string& transactional_id) override;

  // One coordinator tick (sessions, revoke deadlines); tests call it with a
  // FakeClock instead of waiting for the tick thread.
  void RunGroupTickOnce() { groups_->TickOnce(); }

  // One retention pass over every partition (what the retention thread runs
  // every retention_check_interval_ms). Returns the number of partitions
  // whose log start moved.
  int64_t RunRetentionOnce();

  // Cluster mode: subscribes to the replicated store's events (a no-op on
  // a single-node store). Called once by OpenBroker, after loading.
  void AttachToStore();

 private:
  // storage::ReplicationListener (broker_cluster.cc).
  void OnMetadataApplied(const std::vector<std::string>& keys) override;
  void OnLeaderReady(storage::PartitionKey key) override;
  void OnControllerReady() override;
  // OK on a single node or on the controller (the metadata log's leader);
  // else UNAVAILABLE naming the controller: topic admin and consumer-group
  // coordination run there only.
  absl::Status CheckController(const std::string& what) const;
  void FillReplicas(const TopicState& topic, PartitionInfo* info) const;
  void NotifyTopicGrew(const TopicState& before, const TopicState& after);
  // Cluster mode: true (and `done` taken) if another node leads the batch's
  // partition and the batch went there.
  bool MaybeForward(storage::AppendRequest& req, const ProduceBatch& batch, ProduceCallback& done);

  absl::StatusOr<int32_t> ChoosePartition(const TopicState& topic, const ProduceBatch& batch,
                                          const PayloadSummary& summary);
  absl::StatusOr<storage::AppendRequest> BuildAppend(ProduceBatch& batch);
  // Raises the high watermark and records the producer sequence.
  absl::StatusOr<ProduceResult> FinishAppend(storage::PartitionKey key, const BatchHeader& header,
                                             absl::StatusOr<storage::AppendResult> appended);
  absl::Status RetriableInCluster(const absl::Status& status) const;
  void ProduceIdempotent(storage::AppendRequest req, std::function<void()> release,
                         ProduceCallback done);
  absl::Status CheckPartition(const TopicState& topic, int32_t partition) const;
  absl::StatusOr<CommittedOffset> ReadCommitted(const std::string& group, const TopicState& topic,
                                                int32_t partition);
  TopicInfo Describe(const TopicState& topic, bool with_partitions);
  void RetentionLoop();

  const std::shared_ptr<BrokerContext> ctx_;
  Fetcher fetcher_;
  const std::shared_ptr<GroupManager> groups_;
  const std::unique_ptr<ProducerStateGuard> idempotence_;
  PartitionLocks partition_locks_;  // idempotent check + enqueue, per partition
  std::atomic<bool> shutting_down_{false};
  std::atomic<ProduceForwarder*> forwarder_{nullptr};
  std::atomic<int64_t> pending_produce_bytes_{0};
  std::atomic<int64_t> retention_errors_{0};

  std::mutex lifecycle_mu_;  // Start / Shutdown
  bool started_ = false;
  bool shut_down_ = false;
  std::mutex retention_mu_;
  std::condition_variable retention_cv_;
  bool retention_stop_ = false;
  std::thread retention_thread_;
};

}  // namespace herald::broker

#pragma once
// ReplicatedLogStore: a storage::LogStore whose partitions and shared
// metadata are replicated by Raft across the nodes of a static cluster.
// The broker core runs on it unchanged; see cluster/README.md.
//
// * Every partition is one Raft group (replication::PartitionRaftStorage:
//   the partition log is the Raft log) with every cluster node as a voter.
//   Append proposes on the leader and completes once the batch is committed
//   (on a majority, synced) and applied here; elsewhere it fails with
//   UNAVAILABLE naming the leader (kLeaderAddressPayload). Reads, Stats and
//   the append listener stop at the commit point, on every replica.
// * One metadata group (group 0, kept in internal partition {0, 0}) carries
//   the replicated metadata keys (metadata_command.h); WriteMetadata of such
//   keys proposes there (forwarded to its leader from other nodes) and
//   returns once committed and applied on this node. Other keys stay local.
// * A new partition leader accepts appends only after it has applied every
//   earlier entry and ReplicationListener::OnLeaderReady returned.
//
// Threads: the RaftHost loop (Raft, persistence, append completions, the
// append listener); the transport's threads; one applier thread
// (metadata writes and listener calls, started by SetReplicationListener).
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cluster/cluster_options.h"
#include "cluster/latency_histogram.h"
#include "cluster/proposal_forwarding.h"
#include "common/clock.h"
#include "replication/runtime/grpc_transport.h"
#include "replication/runtime/partition_raft_storage.h"
#include "replication/runtime/raft_host.h"
#include "storage/log_store.h"

namespace herald::cluster {

class ReplicatedLogStore final : public storage::LogStore {
 public:
  // Opens a Raft group for every partition `inner` holds and for the
  // metadata log, then starts the transport (binds raft_listen) and the
  // Raft loop. `inner` is this node's local store.
  static absl::StatusOr<std::unique_ptr<ReplicatedLogStore>> Open(
      const ClusterOptions& options, std::unique_ptr<storage::LogStore> inner,
      Clock* clock = Clock::Real());
  ~ReplicatedLogStore() override;  // Close()

  absl::Status CreatePartition(storage::PartitionKey key) override;
  absl::Status DeletePartition(storage::PartitionKey key) override;
  std::vector<storage::PartitionKey> ListPartitions() override;
  void Append(storage::AppendRequest request, storage::AppendCallback done) override;
  absl::StatusOr<storage::ReadResult> Read(storage::PartitionKey key,
                                           const storage::ReadOptions& options) override;
  absl::StatusOr<storage::PartitionStats> Stats(storage::PartitionKey key) override;
  absl::StatusOr<int64_t> OffsetForTimestamp(storage::PartitionKey key,
                                             int64_t timestamp_ms) override;
  absl::StatusOr<int64_t> ApplyRetention(storage::PartitionKey key,
                                         const storage::RetentionPolicy& policy,
                                         int64_t now_ms) override;
  absl::Status TruncateSuffix(storage::PartitionKey key, int64_t offset) override;
  void SetAppendListener(std::function<void(storage::PartitionKey, int64_t)> listener) override;
  absl::Status WriteMetadata(const std::vector<storage::MetadataWrite>& writes) override;
  absl::StatusOr<std::optional<std::string>> GetMetadata(absl::string_view key) override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanMetadata(
      absl::string_view prefix) override;
  std::vector<std::pair<std::string, double>> EngineStats() override;
  void Close() override;

  bool replicated() const override { return true; }
  void SetReplicationListener(storage::ReplicationListener* listener) override;
  std::optional<storage::ReplicaState> Replica(storage::PartitionKey key) override;
  std::optional<storage::ReplicaState> MetadataReplica() override;
  std::vector<storage::ClusterNode> Nodes() override;
  // Raft host and transport counters, the controller flag and the append
  // commit latency (replicated_stats.cc).
  std::optional<storage::ReplicationStats> GetReplicationStats() override;
  absl::Status HandOffLeadership(int64_t timeout_ms) override;

  // Asks every group this node leads (partitions and the metadata log) to
  // transfer leadership to its most up-to-date reachable other voter
  // (highest match), re-asking (another voter if there is one) after each
  // election timeout, until no group is led here or `timeout` passed.
  // Groups with no reachable other voter, or failed ones, are skipped. DEADLINE_EXCEEDED names the
  // groups still led here. Blocks; not for the Raft loop or the applier thread. The node stays a
  // voter: it takes leadership again only through a later election.
  absl::Status TransferLeadershipAway(absl::Duration timeout);

  // One leader-balancing round (what the balancer thread runs every
  // leader_balance_interval_ms); returns how many transfers it started.
  int BalanceLeadersOnce();

  // The node-to-node port (after Open).
  int raft_port() const { return transport_->port(); }

 private:
  struct Log;    // one Raft group: a partition or the metadata log
  struct Event;  // work for the applier thread

  ReplicatedLogStore(const ClusterOptions& options, std::unique_ptr<storage::LogStore> inner,
                     Clock* clock);
  absl::Status Start();
  absl::Status AddLog(storage::PartitionKey key, uint64_t applied_floor);
  std::shared_ptr<Log> Find(storage::PartitionKey key) const;
  std::shared_ptr<Log> FindGroup(replication::GroupId group) const;
  void OnApply(replication::GroupId group, const replication::Entry& entry);
  void CompleteAppend(const std::shared_ptr<Log>& log, const BatchHeader& header,
                      absl::StatusOr<uint64_t> index, storage::AppendCallback done);
  absl::Status NotLeader(const std::string& what, const replication::GroupStatus& status) const;
  storage::ReplicaState ReplicaOf(const Log& log, const replication::GroupStatus& status) const;
  absl::StatusOr<uint64_t> ProposeMetadata(const std::string& data);
  void WaitApplied(uint64_t index, std::chrono::steady_clock::time_point deadline);
  // The groups this node leads now (role leader, not failed).
  std::vector<replication::GroupId> GroupsLedHere() const;

  // Applier thread.
  void Post(Event event);
  void ApplierLoop();
  void ApplyMetadataEntry(uint64_t index, const std::vector<storage::MetadataWrite>& writes);
  void MarkLeaderReady(const std::shared_ptr<Log>& log, uint64_t term);

  const ClusterOptions options_;
  const std::unique_ptr<storage::LogStore> inner_;
  Clock* const clock_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<replication::GrpcTransport> transport_;
  std::unique_ptr<replication::RaftHost> host_;
  ProposalForwarder forwarder_;
  std::atomic<int64_t> pending_append_bytes_{0};
  LatencyHistogram commit_latency_;  // Append: propose -> committed and applied
  std::function<void(storage::PartitionKey, int64_t)> append_listener_;

  mutable absl::Mutex logs_mu_;
  std::map<replication::GroupId, std::shared_ptr<Log>> logs_ ABSL_GUARDED_BY(logs_mu_);

  std::mutex apply_mu_;
  std::condition_variable apply_cv_;
  std::deque<Event> events_;                          // guarded by apply_mu_
  uint64_t meta_applied_ = 0;                         // guarded by apply_mu_
  storage::ReplicationListener* listener_ = nullptr;  // guarded by apply_mu_
  bool applier_stop_ = false;                         // guarded by apply_mu_
  std::thread applier_;
  std::thread::id applier_id_;

  // Leader balancer (leader_balancer.cc).
  void BalancerLoop();
  std::mutex balancer_mu_;
  std::condition_variable balancer_cv_;
  bool balancer_stop_ = false;
  std::thread balancer_;

  std::mutex close_mu_;
  bool closed_ = false;
};

}  // namespace herald::cluster

#pragma once
// GroupManager: consumer groups inside the broker core. Owns the
// coordination::GroupCoordinator, routes the MemberEvents it returns to the
// members' subscriptions, runs the coordinator's Tick thread, and does
// committed-offset writes (validated by the coordinator) and group admin.
//
// Threads: one tick thread (Start/Stop) calling Tick every
// group_tick_interval_ms. Every coordinator call that returns events is
// made under mu_ together with the routing of those events, so each
// member's subscription sees its events in the coordinator's order.
// Lock order: mu_ -> SubscriptionCore::mu_ / OffsetMonitor / coordinator.
// Nothing here is called with a SubscriptionCore lock held, and mu_ is
// never held while waiting for a sink (Close happens outside it).
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "broker/broker.h"
#include "broker/broker_context.h"
#include "coordination/group_coordinator.h"

namespace herald::broker {

class SubscriptionCore;

class GroupManager : public std::enable_shared_from_this<GroupManager> {
 public:
  static absl::StatusOr<std::shared_ptr<GroupManager>> Open(std::shared_ptr<BrokerContext> ctx);
  ~GroupManager();

  void Start();  // the tick thread; idempotent
  // Stops the tick thread; later group calls fail with UNAVAILABLE (Leave
  // is skipped, so static members stay reserved across a restart).
  void Stop();
  // One coordinator tick (what the thread runs; tests call it directly).
  void TickOnce();

  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const SubscribeOptions& options,
                                                          SubscriptionSink* sink);
  // Cluster mode, this node just became the controller: re-reads every
  // group's state (generations, static members) from the replicated
  // metadata the previous controller wrote. Only while no member is
  // connected here (FAILED_PRECONDITION otherwise: the live state wins).
  absl::Status Reload();
  // Topics were created, deleted or grew: rebalance affected groups.
  void OnTopicsChanged();

  std::vector<absl::Status> Commit(const std::string& group, const std::string& member_id,
                                   int64_t generation, const std::vector<CommittedOffset>& offsets);
  std::vector<GroupListing> List();
  absl::StatusOr<GroupDescription> Describe(const std::string& group);
  absl::Status Delete(const std::string& group);
  absl::StatusOr<std::vector<OffsetReset>> ResetOffsets(const ResetOffsetsRequest& request);
  std::vector<GroupGauge> Gauges();

  // Called by a member's Subscription handle.
  void Leave(const std::string& group, const std::string& member_id);
  absl::Status RevokeDone(const std::string& group, const std::string& member_id,
                          int64_t generation, const std::vector<GroupPartition>& partitions);
  absl::Status Heartbeat(const std::string& group, const std::string& member_id);
  int64_t Generation(const std::string& member_id);

 private:
  struct Route {
    std::string group;
    std::weak_ptr<SubscriptionCore> core;
    StartPosition reset;
    int64_t generation = 0;
    std::map<coordination::TopicPartition, storage::PartitionKey> owned;
  };

  explicit GroupManager(std::shared_ptr<BrokerContext> ctx);
  int64_t NowMs() const { return ctx_->options.clock->MonotonicMs(); }
  void RouteLocked(const std::vector<coordination::MemberEvent>& events);
  void ApplyAssignLocked(Route& route, SubscriptionCore& core,
                         const coordination::MemberEvent& event);
  void ApplyRevokeLocked(Route& route, SubscriptionCore& core,
                         const coordination::MemberEvent& event);
  // Where a newly assigned partition starts: the committed offset if it is
  // inside the log, else `reset`.
  absl::StatusOr<int64_t> StartOffset(const std::string& group, storage::PartitionKey key,
                                      const StartPosition& reset);
  absl::StatusOr<int64_t> ReadCommitted(const std::string& group, storage::PartitionKey key);
  std::vector<absl::Status> CommitLocked(const std::string& group, const std::string& member_id,
                                         int64_t generation,
                                         const std::vector<CommittedOffset>& offsets);
  void TickLoop();

  const std::shared_ptr<BrokerContext> ctx_;
  // Replaced by Reload (cluster mode); read through Coordinator() so a call
  // racing a reload keeps the instance it started with.
  std::shared_ptr<coordination::GroupCoordinator> coordinator_;
  std::shared_ptr<coordination::GroupCoordinator> Coordinator() const {
    return std::atomic_load(&coordinator_);
  }

  std::mutex mu_;
  bool stopped_ = false;
  std::map<std::string, Route> routes_;  // by member id; one per open group subscription

  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  bool tick_stop_ = false;
  std::thread tick_thread_;
};

}  // namespace herald::broker
